"""The locustfile judges responses against the help desk contract: breaks count as failures, variants do not.

Personas run one step at a time against tiny real HTTP servers (``locust_targets``), so the outcome of each
request is known exactly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from locust_targets import running

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "helpdesk.py"
POLL_NAMES = ("/api/conversations/updates", "/api/messages/updates", "/api/expert-queue/updates")


def load_locustfile(name: str):
    spec = importlib.util.spec_from_file_location(name, LOCUSTFILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def helpdesk():
    return load_locustfile("helpdesk_locustfile_contract")


def idle_user_polls_once(helpdesk, url: str):
    """An IdleUser signs in and runs one poll cycle.

    Returns the user, {(method, name): (requests, failures)} and {name: last failure message}.
    """
    from locust.env import Environment

    table: dict[tuple[str, str], tuple[int, int]] = {}
    errors: dict[str, str] = {}

    def record(request_type, name, exception, **kw):
        requests, failures = table.get((request_type, name), (0, 0))
        table[(request_type, name)] = (requests + 1, failures + (exception is not None))
        if exception is not None:
            errors[name] = str(exception)

    persona = type("IdleUser", (helpdesk.IdleUser,), {"host": url})  # what a runner does with --host
    env = Environment(user_classes=[persona], host=url)
    env.events.request.add_listener(record)
    user = persona(env)
    user.on_start()
    if user.me is not None:
        user.poll()
    return user, table, errors


def test_conforming_answers_pass_and_move_the_cursors(helpdesk):
    with running("ok") as url:
        user, table, errors = idle_user_polls_once(helpdesk, url)
    assert errors == {}
    assert table == {("POST", "/auth/login"): (1, 0), **{("GET", name): (1, 0) for name in POLL_NAMES}}
    assert user.me.user_id == "7"  # numeric id in the auth user, carried as a string
    assert user.conversations_since == "2026-01-01T00:00:01Z"  # largest updatedAt seen
    assert user.messages_since == "2026-01-01T00:00:01Z"  # largest message timestamp seen
    assert user.queue_since is not None and user.queue_since.endswith("Z")  # the client's clock, in UTC


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        pytest.param(
            "wrong-body",
            (
                "expected a JSON array of conversation",
                "without conversationId, senderId, timestamp",
                "without waitingConversations, assignedConversations",
            ),
            id="right-status-with-a-wrong-body",
        ),
        pytest.param("wrong-status", ("HTTP 500", "HTTP 404", "HTTP 202"), id="wrong-status-even-when-it-is-2xx"),
    ],
)
def test_a_poll_answer_that_breaks_the_contract_counts_as_a_failure(helpdesk, mode, why):
    """``why`` holds, for each of POLL_NAMES in turn, a part of the failure message the locustfile must give."""
    with running(mode) as url:
        _, table, errors = idle_user_polls_once(helpdesk, url)
    assert table[("POST", "/auth/login")] == (1, 0)
    assert {name: table[("GET", name)] for name in POLL_NAMES} == {name: (1, 1) for name in POLL_NAMES}
    for name, part in zip(POLL_NAMES, why, strict=True):
        assert part in errors[name], (name, errors[name])


def test_a_login_without_a_token_fails_and_the_user_does_not_poll(helpdesk):
    with running("bad-login") as url:
        user, table, errors = idle_user_polls_once(helpdesk, url)
    assert user.me is None
    assert table == {("POST", "/auth/login"): (1, 1)}
    assert errors["/auth/login"].endswith("no token in the body")


def test_a_401_on_a_fresh_token_is_a_failure_and_the_user_logs_in_again(helpdesk):
    with running("expiring") as url:
        user, table, errors = idle_user_polls_once(helpdesk, url)
    assert table[("POST", "/auth/login")] == (2, 0)  # the first login, then the one after the 401
    assert table[("GET", "/api/conversations/updates")] == (2, 1)  # refused, then retried with the new token
    assert table[("GET", "/api/messages/updates")] == (1, 0)
    assert errors["/api/conversations/updates"].startswith("401 with a token only 0 s old")
    assert user.me.auth_token == "good"


def test_a_401_on_an_old_token_is_expiry_not_a_failure(helpdesk, monkeypatch):
    monkeypatch.setattr(helpdesk, "TOKEN_LIFETIME_S", 0)  # every token counts as expired at once
    with running("expiring") as url:
        user, table, errors = idle_user_polls_once(helpdesk, url)
    assert table[("GET", "/api/conversations/updates")] == (2, 0)
    assert errors == {} and user.me.auth_token == "good"


def test_no_server_is_a_failure_that_says_so(helpdesk):
    from locust_targets import free_port

    user, table, errors = idle_user_polls_once(helpdesk, f"http://127.0.0.1:{free_port()}")
    assert user.me is None and table == {("POST", "/auth/login"): (1, 1)}
    assert errors["/auth/login"].startswith("no answer: ")


QUEUE = {"waitingConversations": [], "assignedConversations": []}
CONV = {"id": 5, "title": "t", "status": "waiting", "updatedAt": "2026-01-01T00:00:00.123456+00:00"}


@pytest.mark.parametrize(
    "body",
    [[QUEUE], [], QUEUE, {"waitingConversations": [CONV], "assignedConversations": []}],
    ids=["array-of-one", "empty-array", "object", "numeric-id-and-offset-time"],
)
def test_expert_queue_variants_are_accepted(helpdesk, body):
    waiting, assigned, problem = helpdesk.expert_queue(body)
    assert problem is None
    assert assigned == [] and len(waiting) == (1 if isinstance(body, dict) and body["waitingConversations"] else 0)


@pytest.mark.parametrize(
    ("body", "problem"),
    [([QUEUE, QUEUE], "at most one"), ("queue", "got str"), ({"waitingConversations": []}, "assignedConversations")],
)
def test_expert_queue_breaks_are_named(helpdesk, body, problem):
    assert problem in helpdesk.expert_queue(body)[2]


@pytest.mark.parametrize(
    "user",
    [
        {"id": 3, "username": "u", "created_at": "x", "last_active_at": None},
        {"id": "3", "username": "u", "createdAt": "x", "lastActiveAt": None},
    ],
    ids=["snake-case-numeric-id", "camel-case-string-id"],
)
def test_auth_user_in_either_casing_is_accepted(helpdesk, user):
    assert helpdesk.check_auth({"token": "t", "user": user}) is None
    assert helpdesk.check_auth({"token": "", "user": user}) == "no token in the body"
    assert helpdesk.check_auth({"token": "t", "user": {"username": "u"}}) == "no user with id and username in the body"


def test_the_newest_time_wins_across_formats_and_a_bad_time_is_a_problem(helpdesk):
    items = [{"t": "2026-01-01T00:00:02Z"}, {"t": "2026-01-01T00:00:03.5+00:00"}, {"t": "2026-01-01T00:00:01"}]
    assert helpdesk.latest(items, "t", "2026-01-01T00:00:00Z") == ("2026-01-01T00:00:03.5+00:00", None)
    assert helpdesk.latest([{"t": "yesterday"}], "t", None)[1] == "t 'yesterday' is not an ISO-8601 time"


def test_weights_come_from_the_environment_and_bad_ones_say_what_to_write(helpdesk):
    assert helpdesk.parse_weights("IdleUser=0, ExpertUser=4", helpdesk.PERSONAS) == {"IdleUser": 0, "ExpertUser": 4}
    for bad in ("Idle=1", "IdleUser", "IdleUser=-1", "IdleUser=x"):
        with pytest.raises(helpdesk.SettingsError, match="Persona=N"):
            helpdesk.parse_weights(bad, helpdesk.PERSONAS)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HELPDESK_MAX_USERS", "40")
    monkeypatch.setenv("HELPDESK_POLL_INTERVAL", "0.5")
    monkeypatch.setenv("HELPDESK_WEIGHTS", "IdleUser=3,ExpertUser=0")
    monkeypatch.setenv("HELPDESK_SEED", "9")
    module = load_locustfile("helpdesk_locustfile_settings")
    assert (module.MAX_USERS, module.POLL_INTERVAL_S, module.SEED) == (40, 0.5, 9)
    weights = {c.__name__: c.weight for c in (module.IdleUser, module.NewUser, module.ActiveUser, module.ExpertUser)}
    assert weights == {"IdleUser": 3, "NewUser": 2, "ActiveUser": 6, "ExpertUser": 0}
    monkeypatch.setenv("HELPDESK_POLL_INTERVAL", "often")
    with pytest.raises(module.SettingsError, match="HELPDESK_POLL_INTERVAL='often' is not a number"):
        load_locustfile("helpdesk_locustfile_bad_settings")


def test_every_request_names_its_endpoint_group(helpdesk):
    from locust.env import Environment

    seen: list[tuple[str, dict]] = []
    with running("ok") as url:
        persona = type("IdleUser", (helpdesk.IdleUser,), {"host": url})
        env = Environment(user_classes=[persona], host=url)
        env.events.request.add_listener(lambda name, context, **kw: seen.append((name, context)))
        user = persona(env)
        user.on_start()
        user.poll()
    assert [(name, ctx["group"]) for name, ctx in seen] == [("/auth/login", "auth")] + [(n, "polls") for n in POLL_NAMES]
    assert all(ctx["persona"] == "IdleUser" for _, ctx in seen)


CLI_SECONDS = 3  # a headless run just long enough for every user to sign in and poll
CLI_TIMEOUT_S = 60.0


@pytest.mark.slow
def test_plain_locust_command_line_runs_the_file_unchanged():
    env = {**os.environ, "HELPDESK_WEIGHTS": "IdleUser=1,NewUser=1,ActiveUser=0,ExpertUser=0", "HELPDESK_MAX_USERS": "50"}
    env["HELPDESK_POLL_INTERVAL"] = "1"  # every browser polls within the short run, whatever its phase
    with running("ok") as url:
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", url, "--headless"]
        cmd += ["-u", "4", "-r", "4", "-t", f"{CLI_SECONDS}s", "--json", "--only-summary"]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = {(e["method"], e["name"]): (e["num_requests"], e["num_failures"]) for e in json.loads(run.stdout)}
    expected = {("POST", "/auth/login"), ("POST", "/auth/register"), ("GET", "/conversations"), ("GET", "/conversations/[id]")}
    expected |= {("GET", "/conversations/[id]/messages")} | {("GET", name) for name in POLL_NAMES}
    assert set(stats) == expected
    assert all(requests > 0 and failures == 0 for requests, failures in stats.values()), stats
