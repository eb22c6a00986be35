"""The help desk's pure parts: tokens, the rails cost model's CPU burn, `since` parsing, digest files, form bodies."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest

from helpdesk import cost, db, tokens
from helpdesk.errors import ApiError
from helpdesk.payload import _form, path_id, storable
from helpdesk.routes_updates import parse_since

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_token_round_trip_and_expiry_on_the_given_clock():
    token = tokens.issue(42, SECRET, now=1_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"user_id": 42, "exp": 1_000_000 + 15 * 60}
    assert tokens.verify(token, SECRET, now=1_000_000 + 15 * 60 - 1) == 42
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(token, SECRET, now=1_000_000 + 15 * 60)


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({"user_id": 1, "exp": 2**40}, "another-secret-that-is-also-long-enough-for-hs256", algorithm="HS256"),
        jwt.encode({"user_id": 1, "exp": 2**40}, None, algorithm="none"),
        jwt.encode({"user_id": "1", "exp": 2**40}, SECRET, algorithm="HS256"),
        jwt.encode({"user_id": 1}, SECRET, algorithm="HS256"),
        "not-a-token",
    ],
)
def test_forged_or_malformed_tokens_are_refused(token):
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, SECRET, now=time.time())


def test_burn_spends_at_least_the_requested_thread_cpu_time():
    before = time.thread_time()
    cost.burn(20)
    assert time.thread_time() - before >= 0.020


def test_rails_model_charges_base_plus_rows_minus_the_native_allowance(monkeypatch):
    burned: list[float] = []
    monkeypatch.setattr(cost, "burn", burned.append)
    cost.CostModel("rails").charge("updates.conversations", rows=3)
    cost.CostModel("native").charge("updates.conversations", rows=3)
    assert burned == [pytest.approx(1.6 + 3 * 0.85 - cost.NATIVE_ALLOWANCE_MS)]


def test_rails_model_scales_with_this_machines_bcrypt_time():
    # Twice as slow a bcrypt-12 as the reference machine's: every figure doubles, so login / poll stays Rails' ~118.
    slow = cost.CostModel("rails", bcrypt12_ms=2 * cost.REFERENCE_BCRYPT12_MS)
    assert slow.scale == pytest.approx(2.0)
    assert slow.cost_ms("updates.conversations") == pytest.approx(3.2)
    assert slow.cost_ms("updates.conversations", rows=3) == pytest.approx(2 * 4.15)
    login = slow.cost_ms("login") + 2 * cost.REFERENCE_BCRYPT12_MS  # the model's rest plus the real hash
    assert login / slow.cost_ms("updates.conversations") == pytest.approx(190 / 1.6)


def test_bcrypt_yardstick_is_a_positive_cpu_time():
    assert cost.time_bcrypt12_ms(timings=1) > 1.0  # a cost-12 hash takes far more than a millisecond anywhere


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T04:00:00.123456Z", datetime(2026, 11, 29, 4, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-29T04:00:00.123456", datetime(2026, 11, 29, 4, 0, 0, 123456, tzinfo=UTC)),  # Locust's utcnow()
        ("2026-11-29T06:00:00+02:00", datetime(2026, 11, 29, 6, 0, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-11-29T04:00:00 00:00", datetime(2026, 11, 29, 4, 0, tzinfo=UTC)),  # "+" sent unencoded
        ("", None),
        (None, None),
    ],
)
def test_since_accepts_the_forms_clients_send(text, expected):
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "1' OR '1'='1", "\x00"])
def test_unreadable_since_is_400(text):
    with pytest.raises(ApiError) as info:
        parse_since(text)
    assert info.value.status == 400 and "error" in info.value.body


def test_digest_file_reading_skips_incomplete_lines_and_honours_limit(tmp_path):
    digest = "$2b$04$" + "a" * 53
    path = tmp_path / "users.tsv"
    path.write_text(f"user_0\t{digest}\nuser_1\t{digest}\n\nbroken line\nuser_2\t{digest[:30]}")
    assert db.read_digests(path) == [("user_0", digest), ("user_1", digest)]
    assert db.read_digests(path, limit=1) == [("user_0", digest)]


def test_form_bodies_follow_rails_conventions():
    assert _form("username=a&user[password]=b&links[]=x&links[]=y&empty=") == {
        "username": "a",
        "user": {"password": "b"},
        "links": ["x", "y"],
        "empty": "",
    }


def test_path_ids_and_storable_text():
    assert path_id("12") == 12
    assert path_id("-1") is None and path_id("1e3") is None and path_id("9" * 30) is None and path_id("٣") is None
    assert storable("ok ' \" ;") and not storable("a\x00b") and not storable("\ud800")


def test_a_metered_request_counts_its_own_steps_not_other_tasks_cpu():
    import asyncio

    seen: list[float] = []

    async def handler(scope, receive, send):
        cost.burn(5)
        await asyncio.sleep(0.05)  # meanwhile another request burns 30 ms on the same thread
        meter = cost._METER.get()
        seen.append(meter.spent_ms())

    async def other():
        await asyncio.sleep(0.01)
        cost.burn(30)

    async def main():
        await asyncio.gather(cost.Metered(handler)({"type": "http"}, None, None), other())

    asyncio.run(main())
    assert 5 <= seen[0] < 30  # its own 5 ms (and a little bookkeeping), not the other request's 30


def test_the_rails_model_tops_a_metered_request_up_to_its_figure(monkeypatch):
    burned: list[float] = []
    monkeypatch.setattr(cost, "burn", burned.append)
    meter = cost.Meter()
    meter.done_ns = 1_000_000  # 1 ms already spent by the request's own steps
    meter.step_started_ns = __import__("time").thread_time_ns()
    token = cost._METER.set(meter)
    try:
        cost.CostModel("rails").charge("updates.conversations")
    finally:
        cost._METER.reset(token)
    assert burned[0] == pytest.approx(1.6 - 1.0 - cost.RESIDUAL_ALLOWANCE_MS, abs=0.05)
