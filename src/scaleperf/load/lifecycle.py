"""Locust's events and options around one in-process run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import locust
from locust import argument_parser


@contextlib.contextmanager
def restored_event_handlers() -> Iterator[None]:
    """Runners add listeners to ``locust.events``; take them off again so the next run starts clean."""
    hooks = {name: hook for name, hook in vars(locust.events).items() if hasattr(hook, "_handlers")}
    saved = {name: list(hook._handlers) for name, hook in hooks.items()}
    try:
        yield
    finally:
        for name, hook in hooks.items():
            hook._handlers = saved[name]


def options(expect_workers: int) -> Any:
    """The parsed options the runners read."""
    parser = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(parser)
    return parser.parse(args=["--expect-workers", str(max(expect_workers, 1))])
