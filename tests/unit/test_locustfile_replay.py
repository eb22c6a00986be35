"""The locustfile replays one workload: the n-th user of every run makes the same choices at the same think times.

Runs of one configuration then differ only by how the system answered, not by how many questions the askers
happened to post in that run (which on the help desk sets the size of the expert queue every expert reads).
"""

from __future__ import annotations

import locust
from test_locustfile_contract import load_locustfile

DRAWS = 12


def users(monkeypatch, seed: str | None, name: str, count: int = 6):
    if seed is None:
        monkeypatch.delenv("HELPDESK_SEED", raising=False)
    else:
        monkeypatch.setenv("HELPDESK_SEED", seed)
    helpdesk = load_locustfile(name)
    from locust.env import Environment

    classes = [
        type(c.__name__, (c,), {"host": "http://127.0.0.1:9"})
        for c in (helpdesk.IdleUser, helpdesk.ActiveUser, helpdesk.ExpertUser)
    ]
    env = Environment(user_classes=classes, host="http://127.0.0.1:9")

    def one_run() -> list:
        helpdesk._number_users_from_zero()  # what Locust's test_start does at the start of every run
        return [classes[i % len(classes)](env) for i in range(count)]

    return helpdesk, one_run


def choices(user, polls_before: int = 0) -> list[float]:
    for _ in range(polls_before):
        user.next_interval()
    return [user.rng.random() for _ in range(DRAWS)]


def test_every_run_replays_the_same_choices_by_default(monkeypatch):
    helpdesk, one_run = users(monkeypatch, None, "helpdesk_locustfile_replay_default")
    assert helpdesk.SEED == helpdesk.DEFAULT_SEED
    assert helpdesk.USERNAME_SEED is None  # separate runs against one deployment sign in different users
    assert helpdesk._number_users_from_zero in locust.events.test_start._handlers  # Locust calls it each run
    first = [choices(u) for u in one_run()]
    second = [choices(u) for u in one_run()]
    assert first == second
    assert len({tuple(c) for c in first}) == len(first), "each user has its own choices"


def test_a_users_choices_do_not_depend_on_how_often_its_browser_polled(monkeypatch):
    """On a slower configuration a user may poll a different number of times between two actions; its choices
    must stay the same, so polls draw from a stream of their own."""
    _, one_run = users(monkeypatch, "4", "helpdesk_locustfile_replay_streams")
    quiet = [choices(u, polls_before=0) for u in one_run()]
    busy = [choices(u, polls_before=7) for u in one_run()]
    assert quiet == busy


def test_random_draws_a_new_workload_every_run(monkeypatch):
    helpdesk, one_run = users(monkeypatch, "random", "helpdesk_locustfile_replay_random")
    assert helpdesk.SEED is None and helpdesk.USERNAME_SEED is None
    assert [choices(u) for u in one_run()] != [choices(u) for u in one_run()]


def test_a_chosen_seed_changes_the_workload_and_the_usernames(monkeypatch):
    a, run_a = users(monkeypatch, "11", "helpdesk_locustfile_replay_11")
    b, run_b = users(monkeypatch, "12", "helpdesk_locustfile_replay_12")
    assert [choices(u) for u in run_a()] != [choices(u) for u in run_b()]
    assert (a.USERNAME_SEED, b.USERNAME_SEED) == (11, 12)


def test_load_workers_draw_different_users():
    stream = load_locustfile("helpdesk_locustfile_replay_workers").user_stream
    assert stream("choices", 0, "ActiveUser", 3).random() != stream("choices", 1, "ActiveUser", 3).random()
