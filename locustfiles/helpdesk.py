"""The help desk's users, as a Locust load test.

It completes the course's example locustfile (Project 4) and models what a deployed help desk sees:

* ``IdleUser``: logged in with the page open; the browser polls for updates every few seconds.
* ``NewUser``: one arrival in ten registers for the first time, then looks at its (empty) conversations.
* ``ActiveUser``: asks questions, follows up on them, and reads its conversations.
* ``ExpertUser``: works the expert queue: claims a waiting question, reads it, answers or hands it back.

Every persona's browser polls the way the course's frontend does: conversations since the largest ``updatedAt``
seen, messages since the largest ``timestamp`` seen, the expert queue (IdleUser and ExpertUser) since the current
time. Weights and think times live in one table, :data:`PERSONAS`.

Each request names its endpoint with ids grouped (``/conversations/[id]/messages``) and passes
``context={"group": G}`` (polls, auth, writes, reads) so statistics and SLOs can speak of endpoint groups. A response
that breaks the API contract (wrong status, a body without the fields the frontend reads) counts as a failure, so
the error rate means something; the variants real implementations show (expert queue as an array or an object,
snake_case or camelCase user, numeric or string ids, duplicate registration answered 422 or 409) are accepted.

Tokens last 15 minutes and ``/auth/refresh`` fails over plain HTTP on deployed Rails apps, so a persona that gets
a 401 logs in again and retries once.

Environment variables (read at import, so they work the same under ``locust -f`` and in-process):

* ``HELPDESK_MAX_USERS`` (10000): size of the seeded pool ``user_0 .. user_<N-1>`` (password = username);
* ``HELPDESK_POLL_INTERVAL`` (5): seconds between two poll cycles of one browser;
* ``HELPDESK_WEIGHTS`` (e.g. ``IdleUser=10,NewUser=2,ActiveUser=6,ExpertUser=2``): persona weights; 0 disables one;
* ``HELPDESK_SEED`` (0): seed of every persona's choices, think times and poll phases, so that every run replays
  the same workload and runs differ only by how the system answered; ``random`` draws a new workload each run.
  Set explicitly, it also seeds the username sequence (which otherwise starts at a random place);
* ``HELPDESK_LOAD_WORKERS``: number of Locust worker processes, when the master does not tell them
  (``--expect-workers``). ``HELPDESK_WORKERS`` names the app's server processes (as in the AWS bundle); read here
  as before when ``HELPDESK_LOAD_WORKERS`` is unset, with a warning.

Run it with ``locust -f locustfiles/helpdesk.py --host http://127.0.0.1:8000``.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from locust import FastHttpUser, events, task
from locust.runners import WorkerRunner

try:
    import scaleperf.load.recorder  # noqa: F401
except ImportError:
    pass

try:  # under the suite, a bad setting is reported like every other user mistake
    from scaleperf.errors import ScaleperfError as SettingsError
except ImportError:
    SettingsError = ValueError  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)

DEFAULT_MAX_USERS = 10000  # the course example's pool: user_0 .. user_9999
DEFAULT_POLL_INTERVAL_S = 5.0  # the frontend's VITE_POLLING_INTERVAL default (5000 ms)
# Each poll interval is drawn uniformly within +-10 % of the interval (mean exact): see ``next_interval``.
DEFAULT_POLL_JITTER = 0.1
TOKEN_LIFETIME_S = 15 * 60 - 60  # JwtService tokens last 15 min; a 401 on an older token is expiry, not a fault
DISTRIBUTED_DEFAULT_SEED = 0  # workers must share one username sequence to take disjoint slices of it
DEFAULT_SEED = 0  # every run replays one workload unless HELPDESK_SEED says otherwise (see ``user_stream``)
NEW_USER_PREFIX = "new_"  # first-time users get names outside the seeded pool: new_<worker>_<random hex>
# Primes for the username stride; the stride must be coprime with the pool size to visit every name once.
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)

POLLS, AUTH, WRITES, READS = "polls", "auth", "writes", "reads"  # the endpoint groups SLOs can name


@dataclass(frozen=True)
class Persona:
    """How many of the arrivals a persona is, how long it thinks between actions, and what it does then."""

    weight: int  # share of arrivals (Locust's user-class weight)
    think_s: tuple[float, float] | None  # pause between two actions, uniform in [min, max]; None: polls only
    actions: dict[str, int] = field(default_factory=dict)  # action method name -> relative frequency
    polls_queue: bool = False  # whether its browser polls the expert queue too


# THE table: persona weights, think times and action mix. Weights 10:2:6:2 make NewUser one arrival in ten.
PERSONAS: dict[str, Persona] = {
    "IdleUser": Persona(weight=10, think_s=None, polls_queue=True),
    "NewUser": Persona(weight=2, think_s=(10.0, 30.0), actions={"browse": 1}),
    "ActiveUser": Persona(weight=6, think_s=(2.0, 6.0), actions={"ask": 1, "follow_up": 3, "browse": 2}),
    "ExpertUser": Persona(weight=2, think_s=(2.0, 6.0), actions={"work_queue": 2, "answer": 1}, polls_queue=True),
}
RELEASE_EVERY = 3  # an expert hands back one claimed question in three (the first, fourth, ...) unanswered

CONVERSATION_FIELDS = ("id", "title", "status", "updatedAt")
MESSAGE_FIELDS = ("id", "conversationId", "senderId", "content", "timestamp")
QUEUE_FIELDS = ("waitingConversations", "assignedConversations")


# ----------------------------------------------------------------------------------------------- settings
def _env_number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; set it to a number >= {minimum:g} or unset it") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} is below {minimum:g}; set it to a number >= {minimum:g} or unset it")
    return value


def parse_weights(spec: str, known: Iterable[str]) -> dict[str, int]:
    """``"IdleUser=10,NewUser=1"`` -> ``{"IdleUser": 10, "NewUser": 1}``; names must be personas."""
    names = list(known)
    weights: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in names or not value.strip().isdigit():
            raise SettingsError(
                f"HELPDESK_WEIGHTS entry {part!r} not understood; write Persona=N[,...] with N >= 0 and Persona in {names}"
            )
        weights[name] = int(value)
    return weights


def _optional_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(_env_number(name, 0, 0)) if raw else None


MAX_USERS = int(_env_number("HELPDESK_MAX_USERS", DEFAULT_MAX_USERS, 1))
POLL_INTERVAL_S = _env_number("HELPDESK_POLL_INTERVAL", DEFAULT_POLL_INTERVAL_S, 0)
POLL_JITTER = _env_number("HELPDESK_POLL_JITTER", DEFAULT_POLL_JITTER, 0)
if POLL_JITTER >= 1:
    raise SettingsError(f"HELPDESK_POLL_JITTER={POLL_JITTER:g} must be below 1 (a share of the poll interval, e.g. 0.1)")
WEIGHTS = {name: p.weight for name, p in PERSONAS.items()} | parse_weights(os.environ.get("HELPDESK_WEIGHTS", ""), PERSONAS)
_SEED_SETTING = os.environ.get("HELPDESK_SEED", "").strip()
SEED: int | None = DEFAULT_SEED  # unset: one workload, replayed
if _SEED_SETTING:
    SEED = None if _SEED_SETTING.lower() == "random" else _optional_int("HELPDESK_SEED")
USERNAME_SEED = SEED if _SEED_SETTING else None  # a default seed must not make separate runs sign in the same users


def _load_workers() -> int | None:
    """Locust worker processes in the run. ``HELPDESK_WORKERS`` names the app's server processes; a load generator
    that still sets it for its workers is understood, and told the new name."""
    count = _optional_int("HELPDESK_LOAD_WORKERS")
    legacy = _optional_int("HELPDESK_WORKERS")
    if count is None and legacy is not None:
        log.warning(
            "HELPDESK_WORKERS=%d read as the number of Locust worker processes, as before; HELPDESK_WORKERS names the "
            "app's server processes: set HELPDESK_LOAD_WORKERS for Locust workers",
            legacy,
        )
        return legacy
    return count


LOAD_WORKERS = _load_workers()


# ------------------------------------------------------------------------------------ usernames and users
class UserNameGenerator:
    """The course example's usernames: ``user_<(seed + i * prime) % max_users>`` for i = 0, 1, 2, ...

    With ``slice_count`` > 1, this generator yields only positions ``i`` with ``i % slice_count == slice_index``,
    so generators with the same seed and different indexes never hand out the same name. Within its slice it
    visits every name once before it starts over. Thread-safe.
    """

    def __init__(
        self, max_users: int = DEFAULT_MAX_USERS, seed: int | None = None, *, slice_index: int = 0, slice_count: int = 1
    ) -> None:
        if not 0 <= slice_index < slice_count:
            raise SettingsError(f"slice {slice_index} of {slice_count} does not exist; check HELPDESK_LOAD_WORKERS")
        self.max_users = max_users
        self.seed = random.randrange(max_users) if seed is None else seed
        coprime = [p for p in PRIMES if max_users % p] or [1]
        self.prime_number = random.Random(self.seed).choice(coprime)
        self.slice_index = slice_index
        self.slice_count = slice_count
        self.slice_size = len(range(slice_index, max_users, slice_count))
        if self.slice_size == 0:
            raise SettingsError(
                f"a pool of {max_users} users has no names left for worker {slice_index} of {slice_count}; "
                "raise HELPDESK_MAX_USERS or use fewer workers"
            )
        self.current_index = -1
        self._lock = threading.Lock()

    def generate_username(self) -> str:
        with self._lock:
            self.current_index += 1
            step = self.current_index % self.slice_size
        position = self.slice_index + step * self.slice_count
        return f"user_{(self.seed + position * self.prime_number) % self.max_users}"


@dataclass(frozen=True)
class SignedIn:
    username: str
    auth_token: str
    user_id: str
    signed_in_at: float  # time.monotonic() of the login or registration that issued the token


class UserStore:
    """The users signed in by this process, by username (the course example's store). Thread-safe."""

    def __init__(self) -> None:
        self.used_usernames: dict[str, SignedIn] = {}
        self.username_lock = threading.Lock()

    def get_random_user(self, rng: random.Random | None = None) -> SignedIn | None:
        with self.username_lock:
            if not self.used_usernames:
                return None
            return (rng or random).choice(list(self.used_usernames.values()))

    def store_user(self, username: str, auth_token: str, user_id: str) -> SignedIn:
        record = SignedIn(username, auth_token, user_id, time.monotonic())
        with self.username_lock:
            self.used_usernames[username] = record
        return record

    def remove_user(self, username: str) -> None:
        with self.username_lock:
            self.used_usernames.pop(username, None)

    def __len__(self) -> int:
        with self.username_lock:
            return len(self.used_usernames)


user_store = UserStore()
_arrivals = itertools.count()  # numbers the users this process starts in the current run, for per-user seeds


@events.test_start.add_listener
def _number_users_from_zero(**_: Any) -> None:
    """Each run numbers its users from 0 again, so the n-th user of every run draws the same choices."""
    global _arrivals
    _arrivals = itertools.count()


def user_stream(purpose: str, worker: int, persona: str, arrival: int) -> random.Random:
    """One user's random stream for one purpose: seeded by who the user is, never by when things happened.

    A user's choices and its browser's poll timing get separate streams. One shared stream would be consumed in the
    order polls and actions happened to interleave, which depends on response times, and the same user would then
    make different choices on a slower configuration."""
    return random.Random(None if SEED is None else f"{SEED}-{worker}-{persona}-{arrival}-{purpose}")


_generator: UserNameGenerator | None = None
_generator_lock = threading.Lock()


def worker_slice(environment: Any) -> tuple[int, int]:
    """(index, count) of this process among the distributed workers; (0, 1) when it runs alone."""
    runner = getattr(environment, "runner", None)
    if not isinstance(runner, WorkerRunner):
        return 0, 1
    options = getattr(environment, "parsed_options", None)
    count = LOAD_WORKERS or getattr(options, "expect_workers", 0) or 1
    index = max(runner.worker_index, 0)
    if index >= count:
        log.warning(
            "worker %d of %d: set HELPDESK_LOAD_WORKERS (or --expect-workers) to the number of workers, "
            "or workers may sign in as the same users",
            index,
            count,
        )
        index %= count
    return index, count


def username_generator(environment: Any) -> UserNameGenerator:
    """This process's generator, made on first use (a worker knows its index only once connected)."""
    global _generator
    with _generator_lock:
        if _generator is None:
            index, count = worker_slice(environment)
            seed = USERNAME_SEED if USERNAME_SEED is not None else (DISTRIBUTED_DEFAULT_SEED if count > 1 else None)
            _generator = UserNameGenerator(MAX_USERS, seed, slice_index=index, slice_count=count)
            log.info("usernames: seed %d, stride %d, slice %d of %d", _generator.seed, _generator.prime_number, index, count)
        return _generator


# ------------------------------------------------------------------------------------- contract checks
def utc_now_iso() -> str:
    """The current time as the frontend's ``new Date().toISOString()`` writes it: UTC, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def missing_fields(items: Any, fields: tuple[str, ...], what: str) -> str | None:
    """A problem description when ``items`` is not a list of objects holding ``fields``, else None."""
    if not isinstance(items, list):
        return f"expected a JSON array of {what}, got {type(items).__name__}"
    for item in items:
        if not isinstance(item, dict):
            return f"expected {what} objects, got {type(item).__name__}"
        absent = [f for f in fields if f not in item]
        if absent:
            return f"{what} without {', '.join(absent)}"
    return None


def latest(items: list[dict], key: str, current: str | None) -> tuple[str | None, str | None]:
    """(the largest ``key`` among ``items`` and ``current``, a problem when a value is not ISO-8601)."""
    best, best_at = current, parse_time(current)
    for item in items:
        at = parse_time(item.get(key))
        if at is None:
            return current, f"{key} {item.get(key)!r} is not an ISO-8601 time"
        if best_at is None or at > best_at:
            best, best_at = item[key], at
    return best, None


def check_auth(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("token"), str) or not body["token"]:
        return "no token in the body"
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), int | str) or "username" not in user:
        return "no user with id and username in the body"
    return None


def expert_queue(body: Any) -> tuple[list[dict], list[dict], str | None]:
    """(waiting, assigned, problem) from an expert-queue body: ``[queue]``, ``[]`` or a bare ``queue`` object."""
    if isinstance(body, list):
        if not body:
            return [], [], None
        if len(body) > 1:
            return [], [], f"expected at most one expert queue in the array, got {len(body)}"
        body = body[0]
    if not isinstance(body, dict):
        return [], [], f"expected an expert queue object, got {type(body).__name__}"
    absent = [f for f in QUEUE_FIELDS if f not in body]
    if absent:
        return [], [], f"expert queue without {', '.join(absent)}"
    waiting, assigned = body["waitingConversations"], body["assignedConversations"]
    problem = missing_fields(waiting, CONVERSATION_FIELDS, "conversation") or missing_fields(
        assigned, CONVERSATION_FIELDS, "conversation"
    )
    return ([], [], problem) if problem else (waiting, assigned, None)


def check_list(fields: tuple[str, ...], what: str, time_key: str | None = None) -> Callable[[Any], str | None]:
    """A check for a JSON array of ``what`` objects holding ``fields`` (and an ISO-8601 ``time_key``)."""

    def check(body: Any) -> str | None:
        problem = missing_fields(body, fields, what)
        return problem or (latest(body, time_key, None)[1] if time_key else None)

    return check


def check_one(fields: tuple[str, ...], what: str) -> Callable[[Any], str | None]:
    """A check for one JSON ``what`` object holding ``fields``."""

    def check(body: Any) -> str | None:
        if not isinstance(body, dict):
            return f"expected a {what} object, got {type(body).__name__}"
        return missing_fields([body], fields, what)

    return check


def check_success(body: Any) -> str | None:
    return None if isinstance(body, dict) and body.get("success") is True else 'expected {"success": true}'


@dataclass(frozen=True)
class Reply:
    status: int  # HTTP status, 0 when the request did not get an answer
    body: Any  # decoded JSON (None when absent or not JSON)
    ok: bool  # the answer was one of the expected statuses and passed its check


# ------------------------------------------------------------------------------------------- personas
class HelpdeskUser(FastHttpUser):
    """What every persona shares: signing in, the frontend's polling, contract-checked requests."""

    abstract = True
    persona: Persona = Persona(weight=0, think_s=None)
    first_time = False  # registers a brand-new user instead of signing in as one from the pool
    endpoints: tuple[tuple[str, str], ...] = ()  # (method, name) of every endpoint this persona uses

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        who = (worker_slice(self.environment)[0], type(self).__name__, next(_arrivals))
        self.rng = user_stream("choices", *who)  # what the person does, and when (think times)
        self.pace = user_stream("pace", *who)  # when the browser polls
        self.me: SignedIn | None = None
        self.username = ""
        self.conversations_since: str | None = None
        self.messages_since: str | None = None
        self.queue_since: str | None = None
        self.waiting: list[str] = []  # ids of waiting conversations from the latest expert queue
        self.assigned: list[str] = []  # ids of conversations assigned to this user (as an expert)
        self.mine: list[str] = []  # ids of conversations this user asked
        self.next_poll_at = 0.0
        self.next_action_at = 0.0

    def context(self) -> dict:
        return {"persona": type(self).__name__}

    # -- schedule: the browser polls on its interval, the person acts on their own think time -------------
    def wait_time(self) -> float:
        now = time.monotonic()
        due = self.next_poll_at
        if self.persona.think_s is not None:
            due = min(due, self.next_action_at)
        return max(0.0, due - now)

    def on_start(self) -> None:
        self.username = (
            f"{NEW_USER_PREFIX}{worker_slice(self.environment)[0]}_{uuid.uuid4().hex[:12]}"
            if self.first_time
            else username_generator(self.environment).generate_username()
        )
        if self.sign_in():
            self.after_sign_in()

    def on_stop(self) -> None:
        user_store.remove_user(self.username)

    def after_sign_in(self) -> None:
        now = time.monotonic()
        # A page's polling timer runs from when the page loaded, and independent browsers load at independent
        # times: the first poll comes at a uniformly random point of the first interval. Polling at the instant
        # of login would put the users of one load step, whose logins finish together behind bcrypt, in
        # lockstep: a burst every interval that no audience of separate browsers makes.
        self.next_poll_at = now + self.pace.uniform(0.0, POLL_INTERVAL_S)
        if self.persona.think_s is not None:
            self.next_action_at = now + self.rng.uniform(*self.persona.think_s)

    def next_interval(self) -> float:
        """The time to the next poll, counted from when this one was due (so slow replies do not slow the pace).

        Drawn uniformly within ``POLL_JITTER`` of the interval, so the mean interval is exact while each browser's
        phase wanders. With fixed intervals the arrangement of phases drawn at sign-in would hold for the whole
        run: a miniature's 18 users would meet (or miss) one another at the same instants every cycle, and each
        run would measure one draw of that arrangement. On the 0.175-core miniature that made runs of one
        configuration differ by a log SD of 0.155 in polls.p95 (docs/locustfile.md); an audience whose browsers
        are reloaded and whose timers slip does not keep one arrangement, and the wandering phases average over
        many arrangements within a run (benchmarks/bench_poll_phase_spread.py)."""
        return POLL_INTERVAL_S * (1.0 + self.pace.uniform(-POLL_JITTER, POLL_JITTER))

    @task
    def tick(self) -> None:
        if self.me is None:  # signing in failed before: try again, at the pace of the poll interval
            self.next_poll_at = time.monotonic() + max(POLL_INTERVAL_S, 1.0)
            if self.sign_in():
                self.after_sign_in()
            return
        now = time.monotonic()
        if now >= self.next_poll_at:
            self.poll()
            self.next_poll_at = max(self.next_poll_at + self.next_interval(), now) if POLL_INTERVAL_S else now
            if self.me is None:  # a 401 and the login after it failed: sign in again on the next tick
                return
        if self.persona.think_s is not None and now >= self.next_action_at:
            names = list(self.persona.actions)
            action = self.rng.choices(names, weights=[self.persona.actions[n] for n in names])[0]
            getattr(self, action)()
            self.next_action_at = time.monotonic() + self.rng.uniform(*self.persona.think_s)

    # -- requests ------------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        name: str,
        group: str,
        expect: tuple[int, ...] = (200,),
        tolerate: tuple[int, ...] = (),
        query: dict[str, str | None] | None = None,
        body: Any = None,
        check: Callable[[Any], str | None] | None = None,
        authed: bool = True,
        retried: bool = False,
    ) -> Reply:
        """One request, judged against the contract. ``tolerate``: statuses that are a correct answer but not
        the hoped-for one (a claim race, a duplicate name); they count as successes and return ``ok=False``."""
        url = path + ("?" + "&".join(f"{k}={quote(v, safe=':')}" for k, v in query.items() if v is not None) if query else "")
        headers = {"Authorization": f"Bearer {self.me.auth_token}"} if authed and self.me else None
        with self.client.request(
            method, url, name=name, json=body, headers=headers, catch_response=True, context={"group": group}
        ) as resp:
            status = resp.status_code or 0
            if authed and status == 401 and self.me is not None and not retried:
                age = time.monotonic() - self.me.signed_in_at
                if age >= TOKEN_LIFETIME_S:
                    resp.success()  # the token expired, as tokens do after 15 minutes
                else:
                    resp.failure(f"401 with a token only {age:.0f} s old")
                expired = True
            else:
                expired = False
                reply = self._judge(resp, status, expect, tolerate, check)
        if expired:
            self.me = None
            if not self.sign_in():
                return Reply(401, None, False)
            return self.call(
                method, path, name=name, group=group, expect=expect, tolerate=tolerate,
                query=query, body=body, check=check, authed=authed, retried=True,
            )  # fmt: skip
        return reply

    @staticmethod
    def _judge(resp: Any, status: int, expect: tuple[int, ...], tolerate: tuple[int, ...], check: Any) -> Reply:
        if status == 0:
            resp.failure(f"no answer: {getattr(resp, 'error', None) or 'connection failed'}")
            return Reply(status, None, False)
        if status in tolerate:
            resp.success()
            return Reply(status, None, False)
        if status not in expect:
            resp.failure(f"HTTP {status}, expected {' or '.join(map(str, expect))}")
            return Reply(status, None, False)
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            resp.failure("the body is not JSON")
            return Reply(status, None, False)
        problem = check(data) if check else None
        if problem:
            resp.failure(problem)
            return Reply(status, data, False)
        resp.success()
        return Reply(status, data, True)

    # -- signing in --------------------------------------------------------------------------------------
    def sign_in(self) -> bool:
        """Log in, else register (a first-time user: register, else log in). True once signed in."""
        first, second = (self.register, self.login) if self.first_time else (self.login, self.register)
        status = first()
        if self.me is None and status in (401, 409, 422):  # unknown user, or already registered
            status = second()
            if self.me is None and status in (409, 422) and not self.first_time:
                self.login()  # registered by someone else meanwhile
        if self.me is not None:
            self.first_time = False  # registered now: signing in again (an expired token) is a login
        return self.me is not None

    def login(self) -> int:
        reply = self.call(
            "POST", "/auth/login", name="/auth/login", group=AUTH, tolerate=(401,),
            body={"username": self.username, "password": self.username}, check=check_auth, authed=False,
        )  # fmt: skip
        return self._signed_in(reply)

    def register(self) -> int:
        reply = self.call(
            "POST", "/auth/register", name="/auth/register", group=AUTH, expect=(201,), tolerate=(409, 422),
            body={"username": self.username, "password": self.username}, check=check_auth, authed=False,
        )  # fmt: skip
        return self._signed_in(reply)

    def _signed_in(self, reply: Reply) -> int:
        if reply.ok:
            self.me = user_store.store_user(self.username, reply.body["token"], str(reply.body["user"]["id"]))
        return reply.status

    # -- the frontend's polling --------------------------------------------------------------------------
    def poll(self) -> None:
        """One poll cycle, in the frontend's order: conversations, messages, then (experts) the queue."""
        assert self.me is not None
        reply = self.call(
            "GET", "/api/conversations/updates", name="/api/conversations/updates", group=POLLS,
            query={"userId": self.me.user_id, "since": self.conversations_since},
            check=check_list(CONVERSATION_FIELDS, "conversation", "updatedAt"),
        )  # fmt: skip
        if reply.ok:
            self.conversations_since, _ = latest(reply.body, "updatedAt", self.conversations_since)
        if self.me is None:
            return
        reply = self.call(
            "GET", "/api/messages/updates", name="/api/messages/updates", group=POLLS,
            query={"userId": self.me.user_id, "since": self.messages_since},
            check=check_list(MESSAGE_FIELDS, "message", "timestamp"),
        )  # fmt: skip
        if reply.ok:
            self.messages_since, _ = latest(reply.body, "timestamp", self.messages_since)
        if self.persona.polls_queue and self.me is not None:
            reply = self.call(
                "GET", "/api/expert-queue/updates", name="/api/expert-queue/updates", group=POLLS,
                query={"expertId": self.me.user_id, "since": self.queue_since}, check=lambda b: expert_queue(b)[2],
            )  # fmt: skip
            if reply.ok:
                self.queue_since = utc_now_iso()
                waiting, assigned, _ = expert_queue(reply.body)
                if waiting or assigned:  # the frontend replaces the whole queue with each snapshot it receives
                    self.remember_queue(waiting, assigned)

    def remember_queue(self, waiting: list[dict], assigned: list[dict]) -> None:
        self.waiting = [str(c["id"]) for c in waiting]
        self.assigned = [str(c["id"]) for c in assigned]

    # -- actions shared by personas -----------------------------------------------------------------------
    def browse(self) -> None:
        """Open the conversation list, then (if any) one conversation and its messages."""
        reply = self.call(
            "GET", "/conversations", name="/conversations", group=READS,
            check=check_list(CONVERSATION_FIELDS, "conversation"),
        )  # fmt: skip
        if not reply.ok or not reply.body:
            return
        self.mine = [str(c["id"]) for c in reply.body]
        chosen = self.rng.choice(self.mine)
        self.call(
            "GET", f"/conversations/{chosen}", name="/conversations/[id]", group=READS,
            check=check_one(CONVERSATION_FIELDS, "conversation"),
        )  # fmt: skip
        self.read(chosen)

    def read(self, conversation_id: str) -> Reply:
        return self.call(
            "GET", f"/conversations/{conversation_id}/messages", name="/conversations/[id]/messages", group=READS,
            check=check_list(MESSAGE_FIELDS, "message"),
        )  # fmt: skip

    def say(self, conversation_id: str, content: str) -> Reply:
        return self.call(
            "POST", "/messages", name="/messages", group=WRITES, expect=(201,),
            body={"conversationId": conversation_id, "content": content},
            check=check_one(MESSAGE_FIELDS, "message"),
        )  # fmt: skip


POLL_ENDPOINTS = (("GET", "/api/conversations/updates"), ("GET", "/api/messages/updates"))
QUEUE_POLL = (("GET", "/api/expert-queue/updates"),)
BROWSE_ENDPOINTS = (("GET", "/conversations"), ("GET", "/conversations/[id]"), ("GET", "/conversations/[id]/messages"))


class IdleUser(HelpdeskUser):
    """Who: someone logged in with the help desk open in a tab, doing nothing.

    What: logs in as a pool user (registering when the login fails) and lets the browser poll conversations,
    messages and the expert queue every poll interval, as the course's example does.
    Why this weight: most open sessions are idle tabs; the course gives them weight 10, half of all arrivals here.
    """

    persona = PERSONAS["IdleUser"]
    weight = WEIGHTS["IdleUser"]
    endpoints = (("POST", "/auth/login"), *POLL_ENDPOINTS, *QUEUE_POLL)


class NewUser(HelpdeskUser):
    """Who: a visitor using the help desk for the first time.

    What: registers a new account (a name outside the seeded pool), looks at its conversation list, and then
    idles with the page open while the browser polls, browsing its list now and then.
    Why this weight: the course's example says one user in ten registers for the first time; 2 of 20.
    """

    persona = PERSONAS["NewUser"]
    weight = WEIGHTS["NewUser"]
    first_time = True
    endpoints = (("POST", "/auth/register"), ("GET", "/conversations"), *POLL_ENDPOINTS)

    def after_sign_in(self) -> None:
        super().after_sign_in()
        self.browse()


class ActiveUser(HelpdeskUser):
    """Who: someone asking for help.

    What: logs in as a pool user, asks questions (a new conversation with a first message), follows up in its
    conversations, reads them; its browser polls conversations and messages meanwhile.
    Why this weight: the askers make the writes that give the polls and the experts something to see; about
    a third of arrivals (6 of 20), three askers per expert.
    """

    persona = PERSONAS["ActiveUser"]
    weight = WEIGHTS["ActiveUser"]
    endpoints = (("POST", "/auth/login"), *POLL_ENDPOINTS, ("POST", "/conversations"), ("POST", "/messages"), *BROWSE_ENDPOINTS)

    def ask(self) -> None:
        title = f"Question {uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]} from {self.username}"
        reply = self.call(
            "POST", "/conversations", name="/conversations", group=WRITES, expect=(201,), body={"title": title},
            check=check_one(CONVERSATION_FIELDS, "conversation"),
        )  # fmt: skip
        if reply.ok:
            conversation_id = str(reply.body["id"])
            self.mine.append(conversation_id)
            self.say(conversation_id, f"Hello, I need help with {title.lower()}.")

    def follow_up(self) -> None:
        if not self.mine:
            self.ask()
            return
        self.say(self.rng.choice(self.mine), "Any news on this?")

    def browse(self) -> None:
        if not self.mine:
            self.ask()
            return
        super().browse()


class ExpertUser(HelpdeskUser):
    """Who: a help desk expert.

    What: logs in as a pool user, opens the expert queue, claims a waiting question, reads it and answers it
    (one claim in three is handed back unanswered), answers in conversations it holds; its browser polls
    conversations, messages and the expert queue.
    Why this weight: one expert per three askers (2 of 20 arrivals); claims make the queue's writes and races.
    """

    persona = PERSONAS["ExpertUser"]
    weight = WEIGHTS["ExpertUser"]
    endpoints = (
        ("POST", "/auth/login"),
        *POLL_ENDPOINTS,
        *QUEUE_POLL,
        ("GET", "/expert/queue"),
        ("POST", "/expert/conversations/[id]/claim"),
        ("POST", "/expert/conversations/[id]/unclaim"),
        ("GET", "/conversations/[id]/messages"),
        ("POST", "/messages"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.claims = 0

    def work_queue(self) -> None:
        reply = self.call(
            "GET", "/expert/queue", name="/expert/queue", group=READS, check=lambda b: expert_queue(b)[2]
        )  # fmt: skip
        if not reply.ok:
            return
        self.remember_queue(*expert_queue(reply.body)[:2])
        if not self.waiting:
            return
        chosen = self.waiting.pop(0)  # the oldest question first, as the queue is ordered
        reply = self.call(
            "POST", f"/expert/conversations/{chosen}/claim", name="/expert/conversations/[id]/claim", group=WRITES,
            tolerate=(422,), check=check_success,
        )  # fmt: skip
        if not reply.ok:  # another expert was faster (422), or the claim broke the contract
            return
        self.read(chosen)
        self.claims += 1
        if self.claims % RELEASE_EVERY == 1:
            self.call(
                "POST", f"/expert/conversations/{chosen}/unclaim", name="/expert/conversations/[id]/unclaim",
                group=WRITES, check=check_success,
            )  # fmt: skip
            return
        self.assigned.append(chosen)
        self.say(chosen, "Thanks for asking; here is what to try.")

    def answer(self) -> None:
        if not self.assigned:
            self.work_queue()
            return
        chosen = self.rng.choice(self.assigned)
        self.read(chosen)
        self.say(chosen, "Does that solve it?")
