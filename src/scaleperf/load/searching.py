"""A saturation search while the load runs: the engine's side of :mod:`scaleperf.search`.

:class:`LiveSearch` owns the ``search`` phase of a profile. It watches the requests of the current step's
judged window (the sink hands it every chunk of samples, with times relative to the run's start), asks the
:class:`~scaleperf.search.StepJudge` once the step's time is up (or halfway, for a clear break), records the
outcome in the :class:`~scaleperf.search.Bracket`, and appends the next step to the shape's segments. The
per-user request rate that defines the offered load is measured on the plateau before the search, as the
saturation analysis measures it.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from scaleperf.profiles import SEARCH, LoadProfile, PhaseSpec, Segment, local_users
from scaleperf.search import BROKE, EARLY_FRACTION, OK, Bracket, StepCriteria, StepJudge, Window

log = logging.getLogger(__name__)

DEFAULT_CRITERIA = StepCriteria()  # without SLOs: the error rate and throughput tracking only
MIN_WARMUP_S = 8.0  # a step's warm-up ends early once its new users have signed in, but never before this
SETTLE_S = 5.0  # ... and this long after the last of their sign-ins (one poll interval: their polls spread out)
AUTH = "auth"  # the endpoint group of sign-ins


class LiveSearch:
    def __init__(
        self,
        profile: LoadProfile,
        segments: list[Segment],
        scale: float,
        criteria: StepCriteria | None,
        group_names: dict[str, int],
    ) -> None:
        specs = [s for s in profile.phases_spec if s.kind == SEARCH]
        self.spec: PhaseSpec = specs[0]
        self.scale = scale
        # The segments before the search run as planned; the search ends the profile, and its planned segments
        # (max_steps of them) give way to the steps it chooses, appended one by one.
        del segments[len(segments) - self.spec.max_steps :]
        self.segments = segments
        self.start_s = segments[-1].end_s if segments else 0.0
        self.bracket = Bracket(
            start=self.spec.start,
            factor=self.spec.factor,
            precision=self.spec.precision,
            max_users=self.spec.max_users,
            max_steps=self.spec.max_steps,
            scale=scale,
        )
        self.judge = StepJudge(criteria or DEFAULT_CRITERIA)
        self.group_names = group_names  # the recorder's group table (name -> index), filled as requests arrive
        plateau = [seg for seg in segments if seg.kind == "plateau"]
        base = plateau[-1] if plateau else None
        # The plateau's judged window, where the per-user request rate that defines the offered load is measured.
        self.base_window = (base.start_s + base.warmup_s, base.end_s) if base else None
        self.window: tuple[float, float] | None = None  # the current step, from its start
        self.base_users = base.users if base else 0
        self._rows: list[dict[str, np.ndarray]] = []
        self._new_users = 0  # users the current step adds (each signs in during its warm-up)
        self._warm = False  # the current step's warm-up has ended (its judged window is fixed)
        self._stepped_down = False  # the current step has fewer users than the one before: the whole warm-up
        self.done = False
        self.decisions: list[dict] = []
        self._append(self.bracket.next_level(), self.start_s)

    # -- samples ------------------------------------------------------------------------------------
    def add(self, chunk: dict[str, np.ndarray]) -> None:
        """A chunk of samples (times relative to the run's start): keep what the current window may need."""
        wanted = [w for w in (self.window, self.base_window if self.judge.per_user_rps is None else None) if w]
        if not wanted or self.done:
            return
        done_at = chunk["t"] + chunk["latency_ms"].astype(np.float64) / 1000.0
        keep = done_at >= min(w[0] for w in wanted)
        if keep.any():
            self._rows.append({k: chunk[k][keep] for k in ("t", "latency_ms", "group", "error")})

    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kept rows as columns: start times, latencies (ms), groups, errors."""
        rows = self._rows
        t = np.concatenate([r["t"] for r in rows]) if rows else np.zeros(0)
        lat = np.concatenate([r["latency_ms"] for r in rows]).astype(np.float64) if rows else np.zeros(0)
        group = np.concatenate([r["group"] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        error = np.concatenate([r["error"] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        return t, lat, group, error

    def _window(self, w0: float, now: float) -> Window:
        t, lat, group, error = self._columns()
        done_at = t + lat / 1000.0
        started = (t >= w0) & (t < now)
        names = np.array(sorted(self.group_names, key=self.group_names.__getitem__) or [""], dtype=object)
        return Window(
            latency_ms=lat[started],
            groups=names[np.clip(group[started], 0, len(names) - 1)] if started.any() else np.zeros(0, dtype=object),
            failed=error[started] != 0,
            completed=int(((done_at >= w0) & (done_at < now)).sum()),
            seconds=max(now - w0, 0.0),
        )

    # -- the schedule -------------------------------------------------------------------------------
    @property
    def current(self) -> Segment:
        return self.segments[-1]

    def _append(self, deploy_users: int | None, at: float) -> None:
        if deploy_users is None:
            self.done = True
            log.info("saturation search done: %s", self.bracket.describe())
            return
        n = sum(1 for seg in self.segments if seg.kind == "step") + 1
        spec = self.spec
        rate = max(spec.rate * self.scale, 0.05)
        users = local_users(deploy_users, self.scale)
        before = self.segments[-1].users if self.segments else 0
        if users < before:
            # A step below a broken one sheds the surplus users at once (Locust stops users at the shape's rate)
            # and keeps the profile's whole warm-up, in which the queue the broken step built drains. Its users
            # are already signed in: going down costs no logins, where a light recovery stretch before it would
            # make every user of the lower step log in again (bcrypt) on a configuration that just broke.
            rate = max(rate, float(before - users))
        self.segments.append(Segment("step", f"step {n}", at, at + spec.step_s, deploy_users, users, rate, spec.warmup_s))
        self.window = (at, at + spec.step_s)  # rows from the step's start: its sign-ins end the warm-up
        if self.judge.per_user_rps is not None:
            self._rows = []
        self._new_users = max(0, users - before)
        self._stepped_down = users < before
        self._warm = False

    def advance(self, now: float, known_until: float | None = None) -> None:
        """Called about once a second with the seconds since the run's start. ``known_until``: the time up to
        which every completed request has reached the search (load workers report every few seconds); the
        step is judged on that span only, so requests still on their way are not counted as missing."""
        if self.done or now < self.start_s:
            return
        known = now if known_until is None else min(now, known_until)
        if self.judge.per_user_rps is None and self.base_users:
            self._measure_base()
        seg = self.current
        if not self._warm:
            ready = self._warm_until(seg, known)
            if ready is None:
                return
            seg = self._fix_window(seg, ready)
        w0 = seg.start_s + min(seg.warmup_s, seg.end_s - seg.start_s)
        if known < w0:
            return
        final = known >= seg.end_s
        early = (known - w0) >= EARLY_FRACTION * (seg.end_s - w0)
        if not (final or early):
            return
        verdict = self.judge.judge(self._window(w0, min(known, seg.end_s)), seg.users, final)
        if verdict.outcome == BROKE and (final or verdict.clear):
            self._decide(seg, BROKE, verdict.reason, now)
        elif final:
            self._decide(seg, OK, verdict.reason, now)

    def _warm_until(self, seg: Segment, now: float) -> float | None:
        """When the step's warm-up ends, once that is known: as soon as every user the step added has signed in
        and ``SETTLE_S`` more have passed (at least ``MIN_WARMUP_S`` in all), and at the profile's ``warmup_s``
        at the latest. A configuration that signs users in quickly gets its judged window sooner; one still
        signing them in when the profile's warm-up is over is judged then, as before."""
        cap = seg.start_s + min(self.spec.warmup_s, seg.end_s - seg.start_s)
        if now >= cap:
            return cap
        floor = seg.start_s + min(MIN_WARMUP_S, self.spec.warmup_s)
        if now < floor or self._stepped_down:
            return None
        ready = floor
        if self._new_users:
            auth = self.group_names.get(AUTH)
            if auth is None:
                return None
            t, lat, group, _ = self._columns()
            done_at = t + lat / 1000.0
            signed = np.sort(done_at[(group == auth) & (t >= seg.start_s) & (done_at <= now)])
            if len(signed) < self._new_users:
                return None
            ready = max(floor, float(signed[self._new_users - 1]) + SETTLE_S)
        return ready if now >= ready else None

    def _fix_window(self, seg: Segment, ready: float) -> Segment:
        """End the step's warm-up at ``ready``; its judged window keeps the profile's length."""
        judged = self.spec.step_s - self.spec.warmup_s
        warmup = ready - seg.start_s
        seg = dataclasses.replace(seg, warmup_s=warmup, end_s=seg.start_s + warmup + judged)
        self.segments[-1] = seg
        self._warm = True
        return seg

    def _decide(self, seg: Segment, outcome: str, reason: str, now: float) -> None:
        end = max(now, seg.start_s)  # ended early (broke beyond doubt), or ran until its last requests came in
        if end != seg.end_s:
            self.segments[-1] = dataclasses.replace(seg, end_s=end)
        self.bracket.record(seg.deploy_users, outcome)
        decision = {"label": seg.label, "deploy_users": seg.deploy_users, "outcome": outcome, "reason": reason, "at_s": end}
        self.decisions.append(decision)
        log.info("%s (%d users): %s, %s", seg.label, seg.deploy_users, outcome, reason)
        self._append(self.bracket.next_level(), end)

    def _measure_base(self) -> None:
        if self.base_window is None or not self._rows:
            return
        w0, w1 = self.base_window
        window = self._window(w0, w1)
        if window.seconds > 0 and window.completed:
            self.judge.per_user_rps = window.completed / window.seconds / self.base_users
            self.judge.base_requests = window.completed

    def facts(self) -> dict:
        """What the search did, for the run's metadata."""
        return {
            "precision": self.spec.precision,
            "factor": self.spec.factor,
            "per_user_rps": self.judge.per_user_rps,
            "criteria": [limit.describe() for limit in self.judge.criteria.latency],
            "max_error_rate": self.judge.criteria.max_error_rate,
            "tracking_floor": self.judge.criteria.tracking_floor,
            "steps": self.decisions,
            "result": self.bracket.describe() if self.bracket.tried else "no step ran",
            "finished": self.done,
        }
