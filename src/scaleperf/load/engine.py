"""Running a load profile with Locust's Python API, in this process, and returning an exact RunResult.

``run()`` drives an ``Environment`` created with ``events=locust.events`` through Locust's whole life cycle (see
:mod:`.lifecycle`) with a local runner, or a master runner and worker processes (``workers`` started here,
``expect_workers`` started by the user on other machines). The raw-sample recorder keeps every request;
its chunks go to disk through :class:`~scaleperf.results.RunWriter` as the run goes, with a meta.json
marked incomplete until the run ends. A run interrupted (Ctrl-C, SIGTERM turned into an exception, any
error) stops the runner, flushes what it has and leaves its results marked incomplete.

Each concern has its module: the locustfile (:mod:`.locustfile`), the target check (:mod:`.preflight`),
Locust's events and options (:mod:`.lifecycle`), signals (:mod:`.signals`), worker processes
(:mod:`.workers`), the drive loop (:mod:`.drive`), the stop protocol (:mod:`.stop`), the samples
(:mod:`.sink`) and the metadata (:mod:`.metadata`). This one puts them in order.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import locust
import numpy as np
from locust.env import Environment
from locust.exception import RPCError
from locust.runners import Runner

from scaleperf import loadgen, results
from scaleperf.errors import ScaleperfError
from scaleperf.load import csv as locust_csv
from scaleperf.load import recorder as rec_mod
from scaleperf.load import roundtrip
from scaleperf.load.drive import Tally, drive
from scaleperf.load.lifecycle import fire_init, fire_quit, options, restored_event_handlers
from scaleperf.load.locustfile import own_listeners, user_classes
from scaleperf.load.metadata import locust_own, software
from scaleperf.load.preflight import preflight
from scaleperf.load.progress import Progress
from scaleperf.load.searching import LiveSearch
from scaleperf.load.selfcheck import GeneratorMonitor
from scaleperf.load.series import per_second
from scaleperf.load.shape import ProfileShape
from scaleperf.load.signals import SignalForwarder
from scaleperf.load.sink import Sink, fresh_writer, samples_header
from scaleperf.load.sink import samples as read_samples
from scaleperf.load.stop import stop
from scaleperf.load.workers import LocalWorkers, free_port, joined_count, wait_for_workers
from scaleperf.profiles import LoadProfile
from scaleperf.search import StepCriteria

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0  # at the end, users finish the task in hand (up to this long), so no request is cut off unrecorded

__all__ = ["preflight", "run", "user_classes"]


def run(
    base_url: str,
    locustfile: Path | str,
    profile: LoadProfile,
    *,
    scale: float = 1.0,
    out_dir: Path | str | None = None,
    meta: dict | None = None,
    deployment: Any = None,
    workers: int = 0,
    expect_workers: int = 0,
    master_bind: str = "127.0.0.1",
    master_port: int | None = None,
    progress: bool = True,
    step_criteria: StepCriteria | None = None,
) -> results.RunResult:
    """Run ``profile`` from ``locustfile`` against ``base_url`` and return what it measured (see the module doc).

    ``master_port``: where the master listens for workers (default: Locust's 5557 when ``expect_workers``
    are to connect from elsewhere, else a free port). When ``deployment`` has a ``wait_for_workers(count_fn)``
    method (EC2 workers), it decides how long to wait for them to join, before the engine's own check.
    ``step_criteria``: what a step of a saturation search must hold (a profile ending with a ``search`` phase);
    without it, the error rate and throughput tracking only.
    """
    if workers < 0 or expect_workers < 0:
        raise ScaleperfError("workers and expect_workers must not be negative")
    if master_port is not None and not 0 < master_port < 65536:
        raise ScaleperfError(f"master port {master_port} is not a TCP port; pass one from 1 to 65535")
    locustfile = Path(locustfile)
    classes = user_classes(locustfile)
    preflight(base_url)
    round_trip = roundtrip.measure(base_url)
    shape = ProfileShape.of(profile, scale)
    planned_end_s = profile.phases(scale)[-1].end_s  # a search's longest: it may end sooner

    def phases_now() -> tuple[results.Phase, ...]:  # a search adds its steps as it goes
        return shape.phases()

    writer = fresh_writer(Path(out_dir)) if out_dir is not None else None
    distributed = workers + expect_workers > 0

    run_meta = {
        **(meta or {}),
        "scale": scale,
        "profile": profile.name,
        "profile_description": profile.description,
        "profile_phases": profile.raw(),
        "base_url": base_url,
        "locustfile": str(locustfile),
        "user_classes": sorted(classes),
        **software(),
        "workers": workers,
        "expect_workers": expect_workers,
        "out_dir": str(out_dir) if out_dir is not None else None,
        "complete": False,
        **round_trip,
        "rtt_from": "the Locust master; the load came from workers elsewhere" if expect_workers else "the load generator",
    }
    recorder = rec_mod.Recorder()
    if profile.has_search:
        shape.search = LiveSearch(profile, shape.segments, scale, step_criteria, recorder.groups)
    monitor = GeneratorMonitor([os.getpid()])
    tally = Tally()
    local: LocalWorkers | None = None
    t0 = time.time()
    sink = Sink(writer, t0, shape.search)
    recorder.sink = sink
    report = Progress(planned_end_s, enabled=progress)
    interrupted: BaseException | None = None

    def write_meta(complete: bool) -> None:
        if writer is None:
            return
        snapshot = samples_header(recorder)
        partial_checks = tally.checks(recorder, monitor, distributed=distributed, t0=sink.t0)
        writer.write_meta(meta={**run_meta, "complete": complete}, phases=phases_now(), checks=partial_checks, samples=snapshot)

    with restored_event_handlers(own_listeners(locustfile)), SignalForwarder() as signals:
        opts = options(base_url, workers + expect_workers)
        env = Environment(
            user_classes=list(classes.values()), shape_class=shape, host=base_url, events=locust.events, parsed_options=opts
        )
        env.stop_timeout = STOP_TIMEOUT_S
        env.events.cpu_warning.add_listener(monitor.on_cpu_warning)
        rec_mod.activate(recorder)
        runner: Runner | None = None
        worker_ids: list[str] = []
        try:
            if distributed:
                if master_port is not None:
                    port = master_port
                else:
                    port = loadgen.MASTER_PORT if expect_workers else free_port(master_bind)
                run_meta["master_port"] = port
                try:
                    runner = env.create_master_runner(master_bind, port)
                except RPCError as exc:
                    raise ScaleperfError(
                        f"the Locust master cannot listen on {master_bind}:{port} ({exc}); "
                        "stop what uses that port or pass another master port"
                    ) from None
                fire_init(env, runner)
                if workers:
                    log_dir = Path(out_dir) if out_dir is not None else Path(os.environ.get("TMPDIR", "/tmp"))
                    log_dir.mkdir(parents=True, exist_ok=True)
                    local = LocalWorkers(workers, locustfile, port, log_dir)
                    for pid in local.pids():
                        monitor.watch(pid)
                if callable(getattr(deployment, "wait_for_workers", None)):
                    deployment.wait_for_workers(joined_count(runner, local, signals))
                wait_for_workers(runner, workers + expect_workers, local, expect_workers, signals)
                worker_ids = list(runner.clients.keys())
            else:
                runner = env.create_local_runner()
                fire_init(env, runner)
            if deployment is not None:
                deployment.start_telemetry()
            t0 = sink.t0 = time.time()
            run_meta["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
            run_meta["t0"] = t0
            write_meta(False)
            runner.start_shape()
            drive(runner, recorder, monitor, shape, scale, t0, tally, local, report, write_meta, signals)
        except BaseException as exc:
            interrupted = exc
            log.warning("load run interrupted (%s: %s); stopping and keeping what was measured", type(exc).__name__, exc)
        finally:
            try:
                if runner is not None:
                    stop(runner, recorder, worker_ids, local)
                    run_meta["locust_exit_code"] = fire_quit(env, runner)  # what `locust -f` would have exited with
                if local is not None:
                    local.stop()
            finally:
                recorder.spill()
                rec_mod.deactivate()
    t1 = time.time()
    report.done(f"load finished: {sink.rows} requests, {sink.failures} failed, {t1 - t0:.0f}s")
    telemetry: tuple[results.Telemetry, ...] = ()
    if deployment is not None and interrupted is None:
        try:
            telemetry = tuple(deployment.telemetry(t0, t1))
        except ScaleperfError as exc:
            log.warning("target telemetry unavailable: %s", exc)
    write_meta(False)  # the tables as they ended, so the chunks on disk read back
    samples = read_samples(writer, sink, samples_header(recorder))
    phases = phases_now()
    if shape.search is not None:
        run_meta["search"] = shape.search.facts()
    seconds = int(np.ceil(max(phases[-1].end_s, samples.t.max() + 1e-9 if len(samples) else 0.0)))
    series = per_second(
        samples,
        seconds,
        users=np.asarray(tally.users_per_s),
        deploy_users=np.asarray(tally.deploy_per_s),
        gen_cpu_pct=np.asarray(tally.cpu_per_s),
    )
    if tally.worker_cpu_warned_at is None and getattr(runner, "worker_cpu_warning_emitted", False):
        tally.worker_cpu_warned_at = t1  # heard only at the end
    run_checks = tally.checks(recorder, monitor, distributed=distributed, t0=t0)
    run_meta["ended_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t1))
    run_meta["methods"] = dict(recorder.methods)
    run_meta["locust_own_stats"] = locust_own(env)
    run_meta["workers_seen"] = {
        k: {"host": v.get("host"), "pid": v.get("pid"), "requests": v["requests"]} for k, v in recorder.workers.items()
    }
    complete = interrupted is None
    if interrupted is not None:
        run_meta["interrupted"] = f"{type(interrupted).__name__}: {interrupted}"
    run_meta["complete"] = complete
    result = results.RunResult(
        meta=run_meta, phases=phases, samples=samples, series=series, telemetry=telemetry, checks=run_checks
    )
    if writer is not None:
        writer.write_series(series)
        writer.write_telemetry(telemetry)
        locust_csv.write(writer.path, samples, recorder.methods, series, t0)
        writer.write_meta(meta=run_meta, phases=phases, checks=run_checks, samples=samples)
    if interrupted is not None:
        raise interrupted
    return result
