"""The drive loop: once a second while the profile runs, sample users, generator CPU and worker health, flush
what was recorded, and show progress; the per-second figures it keeps become the run's series and checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import numpy as np
from locust.runners import STATE_MISSING, STATE_STOPPED, STATE_STOPPING, WORKER_REPORT_INTERVAL, MasterRunner, Runner

from scaleperf import results
from scaleperf.load import recorder as rec_mod
from scaleperf.load.progress import Progress
from scaleperf.load.selfcheck import GeneratorMonitor, checks
from scaleperf.load.shape import ProfileShape
from scaleperf.load.signals import SignalForwarder
from scaleperf.load.workercpu import WorkerCpu, heartbeats_of
from scaleperf.load.workers import LocalWorkers, worker_names

log = logging.getLogger(__name__)

TICK_S = 1.0  # the engine samples users and CPU once a second
FLUSH_INTERVAL_S = 10.0  # buffered samples and meta.json are written at least this often
# Load workers send their requests to the master every WORKER_REPORT_INTERVAL (3 s): in that mode a saturation
# search judges the seconds up to this long ago (a second of slack for the transfer), whose requests have all arrived.
WORKER_REPORT_LAG_S = WORKER_REPORT_INTERVAL + 1.0
END_GRACE_S = 5.0  # a run still going this long after its profile ended is stopped
PROGRESS_WINDOW_S = 5.0  # progress shows requests/s and p95 over this many recent seconds


@dataclass
class Tally:
    """What the drive loop keeps, one figure per second since t0, and the workers it saw lost."""

    users_per_s: list[float] = field(default_factory=list)
    deploy_per_s: list[float] = field(default_factory=list)
    cpu_per_s: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    worker_cpu: WorkerCpu = field(default_factory=WorkerCpu)
    worker_cpu_warned_at: float | None = None  # when the master first heard a worker's CPU was above Locust's limit

    def checks(self, recorder: rec_mod.Recorder, monitor: GeneratorMonitor, *, distributed: bool, t0: float) -> dict:
        """The run's self-checks from what was kept so far."""
        warned = monitor.cpu_warning_times + ([self.worker_cpu_warned_at] if self.worker_cpu_warned_at is not None else [])
        return checks(
            cpu_per_s=np.asarray(self.cpu_per_s),
            lag_ms=np.frombuffer(recorder.lag_ms, dtype=np.float32),
            paced_waits=recorder.paced_waits,
            cpu_warnings=len(warned),
            lost_workers=self.lost,
            worker_cpu_per_s=self.worker_cpu.per_s if distributed else None,
            worker_names=worker_names(recorder),
            lag_at_s=np.frombuffer(recorder.lag_at, dtype=np.float64) - t0,
            cpu_warnings_at_s=sorted(t - t0 for t in warned),
        )


def phase_at(phases: tuple[results.Phase, ...], t: float) -> results.Phase | None:
    for p in phases:
        if p.start_s <= t < p.end_s:
            return p
    return None


def drive(
    runner: Runner,
    recorder: rec_mod.Recorder,
    monitor: GeneratorMonitor,
    shape: ProfileShape,
    scale: float,
    t0: float,
    tally: Tally,
    local: LocalWorkers | None,
    report: Progress,
    write_meta: Callable[[bool], None],
    signals: SignalForwarder,
) -> None:
    """Sample once a second until the profile ends (or the runner stops); a saturation search chooses its
    next step here."""
    last_flush = time.monotonic()
    known_dead: set[int] = set()
    missing_seen: set[str] = set()
    while True:
        second = len(tally.users_per_s)
        gevent.sleep(max(t0 + second + TICK_S - time.time(), 0.0))
        signals.check()
        elapsed = time.time() - t0
        if shape.search is not None:
            recorder.spill()  # the judge sees every request recorded so far
            lag = WORKER_REPORT_LAG_S if local is not None else 0.0
            shape.search.advance(elapsed, known_until=elapsed - lag)
        phases = shape.phases()
        end = phases[-1].end_s
        users = int(runner.user_count)
        phase = phase_at(phases, second)
        tally.users_per_s.append(users)
        tally.deploy_per_s.append(phase.deploy_users * users / phase.users if phase and phase.users else users / scale)
        tally.cpu_per_s.append(monitor.sample(recorder.workers))
        if local is not None:
            for pid, rc, last in local.dead():
                if pid not in known_dead:
                    known_dead.add(pid)
                    tally.lost.append(f"local pid {pid} (exit code {rc} at {elapsed:.0f}s: {last})")
                    log.warning("load worker %d exited with code %d at %.0fs", pid, rc, elapsed)
        if isinstance(runner, MasterRunner):
            if tally.worker_cpu_warned_at is None and getattr(runner, "worker_cpu_warning_emitted", False):
                tally.worker_cpu_warned_at = time.time()
            tally.worker_cpu.sample(heartbeats_of(runner), recorder.workers)
            for node in runner.clients.values():
                if node.state == STATE_MISSING and node.id not in missing_seen:
                    missing_seen.add(node.id)
                    if len(missing_seen) > len(known_dead):  # not one of the local processes already reported
                        tally.lost.append(f"{node.id} (stopped sending heartbeats at {elapsed:.0f}s)")
        lat, failed_total = recorder.recent(t0 + elapsed - PROGRESS_WINDOW_S)  # before a flush empties the buffer
        if recorder.sink is not None:  # and what already left it (a search hands requests over every second)
            lat = np.concatenate([recorder.sink.recent_latencies(elapsed - PROGRESS_WINDOW_S), lat])
        if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
            recorder.spill()
            write_meta(False)
            last_flush = time.monotonic()
        report.update(
            elapsed=elapsed,
            phase=phase.label if phase else "ending",
            users=users,
            rps=len(lat) / PROGRESS_WINDOW_S,
            p95=float(np.percentile(lat, 95)) if len(lat) else None,
            errors=failed_total + recorder.sink.failures if recorder.sink else failed_total,
        )
        stopped = runner.state in (STATE_STOPPED, STATE_STOPPING) and elapsed > 1.0
        if stopped or (elapsed >= end + END_GRACE_S and not shape.running):
            return
