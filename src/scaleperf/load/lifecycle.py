"""Locust's life cycle around one in-process run, in the order ``locust -f`` goes through it.

1. ``init_command_line_parser``: the locustfile's own options join Locust's parser, which reads their values as
   Locust does: defaults, ``env_var`` environment variables, config files (``locust.conf``, ``~/.locust.conf``,
   ``pyproject.toml``), so ``environment.parsed_options.my_option`` holds what it would under ``locust -f``;
2. ``init`` with the environment and its runner (no web UI), once the runner exists and before any user starts;
3. ``test_start`` ... ``test_stopping``, ``test_stop``: fired by the runner itself (on the master and on every
   worker in a distributed run);
4. ``quitting`` and ``quit`` (with the exit code ``locust -f`` would end with), after the users stopped.

A distributed run's worker processes run Locust's own main, which goes through the same steps. Listeners the
runners add are taken off after the run (:func:`restored_event_handlers`), so each run starts clean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import locust
from locust import argument_parser
from locust import log as locust_log
from locust.env import Environment
from locust.runners import Runner

from scaleperf.errors import ScaleperfError

Listeners = dict[str, list[Any]]  # event name -> its listeners


def listeners() -> Listeners:
    """Every listener on ``locust.events`` now."""
    return {name: list(hook._handlers) for name, hook in vars(locust.events).items() if hasattr(hook, "_handlers")}


def added_since(before: Listeners) -> Listeners:
    """The listeners added to ``locust.events`` since ``before``, which are then taken off again.

    A locustfile's module-level hooks are registered once, when it is imported; kept apart like this, they are
    put back for each of its runs and never fire in another locustfile's run in the same process.
    """
    now = listeners()
    added = {name: [h for h in hooks if h not in before.get(name, [])] for name, hooks in now.items()}
    for name, hook in vars(locust.events).items():
        if name in before and hasattr(hook, "_handlers"):
            hook._handlers = list(before[name])
    return {name: hooks for name, hooks in added.items() if hooks}


@contextlib.contextmanager
def restored_event_handlers(own: Listeners | None = None) -> Iterator[None]:
    """``own`` (the locustfile's listeners) on ``locust.events`` for the run; afterwards the listeners the run and its
    runners added are taken off again, so the next run starts clean."""
    saved = listeners()
    for name, hooks in (own or {}).items():
        getattr(locust.events, name)._handlers.extend(hooks)
    try:
        yield
    finally:
        for name, hook in vars(locust.events).items():
            if name in saved:
                hook._handlers = saved[name]


def options(base_url: str, expect_workers: int) -> Any:
    """The parsed options, as ``locust -f LOCUSTFILE --host BASE_URL`` would have them (the locustfile is imported)."""
    parser = argument_parser.get_parser()  # fires init_command_line_parser, as Locust's main does
    args = ["--host", base_url, "--expect-workers", str(max(expect_workers, 1))]
    try:
        return parser.parse_args(args=args)
    except SystemExit:
        raise ScaleperfError(
            "the locustfile's command-line options could not be read (see the message above): give a required option "
            "a default, or set it through its environment variable (env_var) or locust.conf"
        ) from None


def fire_init(env: Environment, runner: Runner) -> None:
    """``init``, as ``locust -f`` fires it; a listener that raises stops the run, as it stops Locust."""
    earlier = locust_log.unhandled_greenlet_exception
    locust_log.unhandled_greenlet_exception = False
    try:
        env.events.init.fire(environment=env, runner=runner, web_ui=None)
        failed = locust_log.unhandled_greenlet_exception
    finally:
        locust_log.unhandled_greenlet_exception = earlier or locust_log.unhandled_greenlet_exception
    if failed:
        raise ScaleperfError("a listener of the locustfile's init event raised (its traceback is logged above); fix it to run")


def fire_quit(env: Environment, runner: Runner) -> int:
    """``quitting`` then ``quit``; returns the exit code ``locust -f`` would have ended with."""
    env.events.quitting.fire(environment=env, reverse=True)
    if env.process_exit_code is not None:
        code = int(env.process_exit_code)
    elif runner.errors or runner.exceptions:
        code = int(getattr(env.parsed_options, "exit_code_on_error", 1))
    else:
        code = 0
    env.events.quit.fire(exit_code=code)
    return code
