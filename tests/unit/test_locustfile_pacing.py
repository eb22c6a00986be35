"""The locustfile's pacing: browsers that sign in together do not poll together.

Users of one load step log in within a second or two of one another (their logins queue behind bcrypt and
finish in a burst). Each browser's first poll comes at its own uniformly random point of the poll interval,
so the polls of a step spread over the interval as those of independent browsers do; each later interval is
drawn within +-10 % of the poll interval, so browsers that happen to poll together do not stay in step.
"""

from __future__ import annotations

import time

import numpy as np
from test_locustfile_contract import load_locustfile

USERS = 400  # users signed in at one instant
TENTHS = 10  # the poll interval in tenths


def first_poll_offsets(monkeypatch, seed: str) -> tuple[np.ndarray, float]:
    monkeypatch.setenv("HELPDESK_SEED", seed)
    helpdesk = load_locustfile(f"helpdesk_locustfile_pacing_{seed}")
    from locust.env import Environment

    persona = type("IdleUser", (helpdesk.IdleUser,), {"host": "http://127.0.0.1:9"})
    env = Environment(user_classes=[persona], host="http://127.0.0.1:9")
    users = [persona(env) for _ in range(USERS)]
    now = time.monotonic()
    with monkeypatch.context() as m:
        m.setattr(time, "monotonic", lambda: now)  # every user signs in at the very same instant
        for user in users:
            user.after_sign_in()
    return np.array([u.next_poll_at - now for u in users]), helpdesk.POLL_INTERVAL_S


def test_users_signed_in_together_poll_across_the_whole_interval(monkeypatch):
    offsets, interval = first_poll_offsets(monkeypatch, "3")
    assert interval > 0
    assert offsets.min() >= -0.01 and offsets.max() <= interval + 0.05
    per_tenth = np.histogram(offsets, bins=TENTHS, range=(0, interval))[0]
    # Uniform phases put USERS / TENTHS = 40 in each tenth (binomial SD about 6); lockstep polling puts all 400
    # in the first. The busiest tenth holds well under twice the quietest.
    assert per_tenth.min() >= 15, per_tenth
    assert per_tenth.max() <= 70, per_tenth


def test_the_phases_follow_the_seed(monkeypatch):
    a, _ = first_poll_offsets(monkeypatch, "5")
    b, _ = first_poll_offsets(monkeypatch, "5")
    c, _ = first_poll_offsets(monkeypatch, "6")
    assert np.allclose(a, b, rtol=0, atol=1e-6)  # the same draws (up to the rounding of the instant they are added to)
    assert not np.allclose(a, c, rtol=0, atol=1e-6)


def test_poll_intervals_keep_their_mean_and_let_phases_wander(monkeypatch):
    """Each interval is drawn within +-POLL_JITTER of the poll interval: the pace is exact on average, and two
    browsers that start in step drift apart instead of meeting at the same instant every cycle."""
    monkeypatch.setenv("HELPDESK_SEED", "8")
    helpdesk = load_locustfile("helpdesk_locustfile_pacing_jitter")
    from locust.env import Environment

    persona = type("IdleUser", (helpdesk.IdleUser,), {"host": "http://127.0.0.1:9"})
    env = Environment(user_classes=[persona], host="http://127.0.0.1:9")
    a, b = persona(env), persona(env)
    interval, jitter = helpdesk.POLL_INTERVAL_S, helpdesk.POLL_JITTER
    assert interval > 0 and 0 < jitter < 1
    cycles = 2000
    da = np.array([a.next_interval() for _ in range(cycles)])
    db = np.array([b.next_interval() for _ in range(cycles)])
    assert da.min() >= interval * (1 - jitter) and da.max() <= interval * (1 + jitter)
    # The mean of 2000 uniform draws is within 4 standard errors of the interval (SE = jitter * interval / sqrt(3 n)).
    assert abs(da.mean() - interval) < 4 * jitter * interval / np.sqrt(3 * cycles)
    apart = np.abs(np.cumsum(da) - np.cumsum(db))  # two browsers whose first polls coincided
    assert np.median(apart[100:]) > 0.5, "after 100 cycles their phases have wandered apart"


def test_a_poll_jitter_of_one_or_more_is_refused(monkeypatch):
    import pytest

    monkeypatch.setenv("HELPDESK_POLL_JITTER", "1.5")
    with pytest.raises(Exception, match="HELPDESK_POLL_JITTER"):
        load_locustfile("helpdesk_locustfile_pacing_bad_jitter")
