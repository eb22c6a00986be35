"""HELPDESK_WORKERS has one meaning, the app's server processes; Locust workers are HELPDESK_LOAD_WORKERS."""

from __future__ import annotations

import logging

import pytest
from test_locustfile_contract import load_locustfile  # imports helpdesk.py afresh, reading the environment


def _import(monkeypatch, **env: str):
    for name in ("HELPDESK_WORKERS", "HELPDESK_LOAD_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_locustfile("helpdesk_locustfile_load_workers")


def test_locust_workers_are_counted_by_their_own_variable(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        module = _import(monkeypatch, HELPDESK_LOAD_WORKERS="3", HELPDESK_WORKERS="2")  # 2 app server processes
    assert module.LOAD_WORKERS == 3 and not caplog.records


def test_the_old_name_still_counts_locust_workers_and_says_the_new_one(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        module = _import(monkeypatch, HELPDESK_WORKERS="4")
    assert module.LOAD_WORKERS == 4
    assert any("set HELPDESK_LOAD_WORKERS for Locust workers" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("env", [{}, {"HELPDESK_LOAD_WORKERS": ""}])
def test_without_either_the_master_says_how_many(monkeypatch, env):
    assert _import(monkeypatch, **env).LOAD_WORKERS is None
