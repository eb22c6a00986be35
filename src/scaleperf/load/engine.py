"""Running a load profile with Locust's Python API, in this process, and returning an exact RunResult.

``run()`` drives an ``Environment`` created with ``events=locust.events`` (so a locustfile's module-level
hooks fire) with a local runner, or a master runner and worker processes (``workers`` started here,
``expect_workers`` started by the user on other machines). The raw-sample recorder keeps every request;
its chunks go to disk through :class:`~scaleperf.results.RunWriter` as the run goes, with a meta.json
marked incomplete until the run ends. A run interrupted (Ctrl-C, SIGTERM turned into an exception, any
error) stops the runner, flushes what it has and leaves its results marked incomplete.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import locust
import numpy as np
from locust import argument_parser
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_STOPPED, STATE_STOPPING, MasterRunner, Runner
from locust.util.load_locustfile import load_locustfile

from scaleperf import loadgen, results
from scaleperf.errors import ScaleperfError
from scaleperf.load import csv as locust_csv
from scaleperf.load import recorder as rec_mod
from scaleperf.load import roundtrip
from scaleperf.load.progress import Progress
from scaleperf.load.searching import LiveSearch
from scaleperf.load.selfcheck import GeneratorMonitor, checks
from scaleperf.load.series import per_second
from scaleperf.load.shape import ProfileShape
from scaleperf.load.workercpu import WorkerCpu, heartbeats_of
from scaleperf.profiles import LoadProfile
from scaleperf.search import StepCriteria

log = logging.getLogger(__name__)

PREFLIGHT_TIMEOUT_S = 4.0  # the target must answer GET /health within this (whole check stays under 10 s)
TICK_S = 1.0  # the engine samples users and CPU once a second
FLUSH_INTERVAL_S = 10.0  # buffered samples and meta.json are written at least this often
SEARCH_FLUSH_S = 3.0  # during a saturation search, buffered samples reach its judge at least this often
END_GRACE_S = 5.0  # a run still going this long after its profile ended is stopped
WORKER_CONNECT_TIMEOUT_S = 30.0  # local worker processes must connect within this
EXPECT_WORKERS_TIMEOUT_S = 600.0  # workers on other machines must connect within this
FINAL_REPORT_TIMEOUT_S = 8.0  # after stopping, wait this long at most for every worker's last samples
WORKER_EXIT_TIMEOUT_S = 10.0  # local worker processes must exit this long after the master quits
MASTER_CLOSE_LINGER_MS = 1000  # at the end, the workers' quit messages get this long to leave before the port is released
STOP_TIMEOUT_S = 5.0  # at the end, users finish the task in hand (up to this long), so no request is cut off unrecorded
PROGRESS_WINDOW_S = 5.0  # progress shows requests/s and p95 over this many recent seconds
_HOST = os.uname().nodename  # this machine: a local worker's reports carry it
REPO_ROOT = Path(__file__).resolve().parents[3]  # for the git commit in the metadata

LOCUST_OWN_Q = (0.5, 0.95, 0.99)  # Locust's own percentiles kept in the metadata, beside the exact ones
_loaded: dict[Path, tuple[float, dict[str, type]]] = {}


# ------------------------------------------------------------------------------------------ inputs
def user_classes(locustfile: Path | str) -> dict[str, type]:
    """The locustfile's user classes (imported once per process and file version)."""
    path = Path(locustfile).resolve()
    if not path.is_file():
        raise ScaleperfError(f"locustfile {locustfile} not found; pass the path of a Python file with Locust user classes")
    mtime = path.stat().st_mtime
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    # Locust imports the file under its stem (locustfiles/helpdesk.py -> "helpdesk"). Where another module of that
    # name exists (the reference backend's package is also "helpdesk"), it keeps the name afterwards.
    shadowed = sys.modules.get(path.stem)
    elsewhere = shadowed is not None or _importable_elsewhere(path)
    try:
        users, _shapes = load_locustfile(str(path))
    except ScaleperfError as exc:
        raise ScaleperfError(f"locustfile {locustfile}: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise ScaleperfError(
            f"locustfile {locustfile} does not import: {type(exc).__name__}: {exc}; run `python {locustfile}` to see where"
        ) from exc
    finally:
        if shadowed is not None:
            sys.modules[path.stem] = shadowed
        elif elsewhere and getattr(sys.modules.get(path.stem), "__file__", None) == str(path):
            del sys.modules[path.stem]
    if not users:
        raise ScaleperfError(f"locustfile {locustfile} defines no Locust user classes (non-abstract subclasses of User)")
    _loaded[path] = (mtime, users)
    return users


def _importable_elsewhere(path: Path) -> bool:
    """Whether ``import <stem>`` finds a module other than this file (found without importing it)."""
    try:
        spec = importlib.util.find_spec(path.stem)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin != str(path)


def preflight(base_url: str) -> None:
    """Fail fast, with one message, when nothing answers at ``base_url``."""
    if not base_url.startswith(("http://", "https://")):
        raise ScaleperfError(f"base URL {base_url!r} must start with http:// or https://")
    url = base_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PREFLIGHT_TIMEOUT_S) as resp:
            resp.read(1024)
    except urllib.error.HTTPError:
        return  # something answered HTTP: reachable (whether it has /health is not ours to judge)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ScaleperfError(
            f"the target {base_url} is unreachable (GET {url}: {reason}); start it or check the URL before running load"
        ) from None


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host if host != "0.0.0.0" else "127.0.0.1", 0))
        return s.getsockname()[1]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _machine() -> dict:
    return {
        "node": platform.node(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


@contextlib.contextmanager
def _restored_event_handlers() -> Iterator[None]:
    """Runners add listeners to ``locust.events``; take them off again so the next run starts clean."""
    hooks = {name: hook for name, hook in vars(locust.events).items() if hasattr(hook, "_handlers")}
    saved = {name: list(hook._handlers) for name, hook in hooks.items()}
    try:
        yield
    finally:
        for name, hook in hooks.items():
            hook._handlers = saved[name]


class _SignalForwarder:
    """Makes an exception raised by the caller's SIGINT/SIGTERM handler reach the run, wherever it fired.

    A signal handler runs in whichever greenlet is current. In gevent's hub (where the run mostly waits) an
    ordinary exception would be logged and dropped, so while the run lasts each Python handler is wrapped:
    raised in the run's own greenlet, the exception propagates at once; raised elsewhere, it is kept and the
    run raises it at its next tick.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: BaseException | None = None
        self._saved: dict[int, Any] = {}
        self._main = gevent.getcurrent()

    def __enter__(self) -> _SignalForwarder:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            original = signal.getsignal(sig)
            if callable(original):
                self._saved[sig] = original
                signal.signal(sig, self._wrap(original))
        return self

    def _wrap(self, original: Any) -> Any:
        def handler(signum: int, frame: Any) -> None:
            try:
                original(signum, frame)
            except BaseException as exc:
                if gevent.getcurrent() is self._main:
                    raise
                self.pending = exc

        return handler

    def check(self) -> None:
        if self.pending is not None:
            exc, self.pending = self.pending, None
            raise exc

    def __exit__(self, *exc: object) -> None:
        for sig, original in self._saved.items():
            signal.signal(sig, original)


# ------------------------------------------------------------------------------------------ workers
class _LocalWorkers:
    """Worker processes on this machine (``python -m scaleperf.load.worker ... --worker``)."""

    def __init__(self, count: int, locustfile: Path, port: int, log_dir: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("LOCUST_SKIP_MONKEY_PATCH", None)  # a fresh process: Locust patches it itself
        for i in range(count):
            log_path = log_dir / f"worker-{i}.log"
            self.logs.append(log_path)
            with open(log_path, "wb") as out:
                cmd = [sys.executable, "-m", "scaleperf.load.worker", "-f", str(locustfile), "--worker"]
                cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
                self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def dead(self) -> list[tuple[int, int, str]]:
        """(pid, exit code, last log line) of every worker that exited."""
        out = []
        for p, log_path in zip(self.procs, self.logs, strict=True):
            if p.poll() is not None:
                out.append((p.pid, p.returncode, _tail(log_path)))
        return out

    def stop(self) -> None:
        deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            if p.poll() is None:
                p.kill()
                p.wait()


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _wait_for_workers(
    runner: MasterRunner, want: int, local: _LocalWorkers | None, remote: int, signals: _SignalForwarder
) -> None:
    timeout = EXPECT_WORKERS_TIMEOUT_S if remote else WORKER_CONNECT_TIMEOUT_S
    deadline = time.monotonic() + timeout
    said = 0.0
    while runner.worker_count < want:
        if local is not None and local.dead():
            pid, rc, tail = local.dead()[0]
            raise ScaleperfError(f"load worker process {pid} exited with code {rc} before the run started: {tail}")
        if time.monotonic() > deadline:
            raise ScaleperfError(
                f"only {runner.worker_count} of {want} load workers connected within {timeout:.0f} s; "
                "start the missing ones with `locust -f LOCUSTFILE --worker --master-host THIS_HOST` or lower the count"
            )
        if remote and time.monotonic() - said > 15:
            said = time.monotonic()
            log.warning("waiting for load workers: %d of %d connected", runner.worker_count, want)
        gevent.sleep(0.1)
        signals.check()


def _joined_count(runner: MasterRunner, local: _LocalWorkers | None, signals: _SignalForwarder) -> Any:
    """The ``count_fn`` a deployment's ``wait_for_workers`` polls: the master's worker count.

    Each poll also raises a pending Ctrl-C/SIGTERM and reports a local worker process that died.
    """

    def joined() -> int:
        signals.check()
        if local is not None and local.dead():
            pid, rc, tail = local.dead()[0]
            raise ScaleperfError(f"load worker process {pid} exited with code {rc} before the run started: {tail}")
        return int(runner.worker_count)

    return joined


def _worker_names(recorder: rec_mod.Recorder) -> dict[str, str]:
    """How a reason names each worker: its Locust id and, when its reports said, its process id."""
    return {wid: f"{wid} (pid {facts['pid']})" for wid, facts in recorder.workers.items() if facts.get("pid")}


# ------------------------------------------------------------------------------------------ the run
class _Sink:
    """Where full sample chunks go: the run directory (when there is one) or memory; times made relative."""

    def __init__(self, writer: results.RunWriter | None, t0: float, search: LiveSearch | None = None) -> None:
        self.writer = writer
        self.search = search  # a saturation search under way watches every chunk
        self.t0 = t0
        self.chunks: list[dict[str, np.ndarray]] = []
        self.failures = 0
        self.rows = 0

    def __call__(self, chunk: dict[str, np.ndarray]) -> None:
        chunk = dict(chunk)
        chunk["t"] = chunk["t"] - self.t0
        self.failures += int(np.count_nonzero(chunk["error"]))
        self.rows += len(chunk["t"])
        if self.search is not None:
            self.search.add(chunk)
        if self.writer is not None:
            self.writer.append_samples(chunk)
        else:
            self.chunks.append(chunk)


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

    def phases_now() -> tuple[results.Phase, ...]:
        return tuple(seg.phase for seg in shape.segments)

    writer = _fresh_writer(Path(out_dir)) if out_dir is not None else None
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
        "locust_version": locust.__version__,
        "python_version": platform.python_version(),
        "versions": results.package_versions(),  # locust, gevent, geventhttpclient, numpy, scipy, scaleperf
        "git_commit": _git_commit(),
        "git_dirty": results.git_dirty(REPO_ROOT),  # uncommitted changes in the checkout; None: no git
        "machine": _machine(),
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
    users_per_s: list[float] = []
    deploy_per_s: list[float] = []
    cpu_per_s: list[float] = []
    lost: list[str] = []
    worker_cpu = WorkerCpu()
    local: _LocalWorkers | None = None
    t0 = time.time()
    sink = _Sink(writer, t0, shape.search)
    recorder.sink = sink
    report = Progress(planned_end_s, enabled=progress)
    interrupted: BaseException | None = None

    def write_meta(complete: bool) -> None:
        if writer is None:
            return
        snapshot = _samples_header(recorder)
        partial_checks = checks(
            cpu_per_s=np.asarray(cpu_per_s),
            lag_ms=np.frombuffer(recorder.lag_ms, dtype=np.float32),
            paced_waits=recorder.paced_waits,
            cpu_warnings=monitor.cpu_warnings,
            lost_workers=lost,
            worker_cpu_per_s=worker_cpu.per_s if distributed else None,
            worker_names=_worker_names(recorder),
        )
        writer.write_meta(meta={**run_meta, "complete": complete}, phases=phases_now(), checks=partial_checks, samples=snapshot)

    with _restored_event_handlers(), _SignalForwarder() as signals:
        opts = _options(workers + expect_workers)
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
                    port = loadgen.MASTER_PORT if expect_workers else _free_port(master_bind)
                run_meta["master_port"] = port
                try:
                    runner = env.create_master_runner(master_bind, port)
                except RPCError as exc:
                    raise ScaleperfError(
                        f"the Locust master cannot listen on {master_bind}:{port} ({exc}); "
                        "stop what uses that port or pass another master port"
                    ) from None
                if workers:
                    log_dir = Path(out_dir) if out_dir is not None else Path(os.environ.get("TMPDIR", "/tmp"))
                    log_dir.mkdir(parents=True, exist_ok=True)
                    local = _LocalWorkers(workers, locustfile, port, log_dir)
                    for pid in local.pids():
                        monitor.watch(pid)
                if callable(getattr(deployment, "wait_for_workers", None)):
                    deployment.wait_for_workers(_joined_count(runner, local, signals))
                _wait_for_workers(runner, workers + expect_workers, local, expect_workers, signals)
                worker_ids = list(runner.clients.keys())
            else:
                runner = env.create_local_runner()
            if deployment is not None:
                deployment.start_telemetry()
            t0 = sink.t0 = time.time()
            run_meta["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
            run_meta["t0"] = t0
            write_meta(False)
            runner.start_shape()
            _drive(
                runner,
                recorder,
                monitor,
                shape,
                scale,
                t0,
                users_per_s,
                deploy_per_s,
                cpu_per_s,
                lost,
                worker_cpu,
                local,
                report,
                write_meta,
                signals,
            )
        except BaseException as exc:
            interrupted = exc
            log.warning("load run interrupted (%s: %s); stopping and keeping what was measured", type(exc).__name__, exc)
        finally:
            try:
                if runner is not None:
                    _stop(runner, recorder, worker_ids, local)
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
    samples = _samples(writer, sink, _samples_header(recorder))
    phases = phases_now()
    if shape.search is not None:
        run_meta["search"] = shape.search.facts()
    seconds = int(np.ceil(max(phases[-1].end_s, samples.t.max() + 1e-9 if len(samples) else 0.0)))
    series = per_second(
        samples,
        seconds,
        users=np.asarray(users_per_s),
        deploy_users=np.asarray(deploy_per_s),
        gen_cpu_pct=np.asarray(cpu_per_s),
    )
    run_checks = checks(
        cpu_per_s=np.asarray(cpu_per_s),
        lag_ms=np.frombuffer(recorder.lag_ms, dtype=np.float32),
        paced_waits=recorder.paced_waits,
        cpu_warnings=monitor.cpu_warnings + int(getattr(runner, "worker_cpu_warning_emitted", False)),
        lost_workers=lost,
        worker_cpu_per_s=worker_cpu.per_s if distributed else None,
        worker_names=_worker_names(recorder),
    )
    run_meta["ended_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t1))
    run_meta["methods"] = dict(recorder.methods)
    run_meta["locust_own_stats"] = _locust_own(env)
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


def _locust_own(env: Environment) -> dict:
    """Locust's own (bucketed) totals, kept beside the exact figures for comparison."""
    total = env.stats.total
    return {
        "num_requests": total.num_requests,
        "num_failures": total.num_failures,
        "total_rps": total.total_rps,
        **{f"p{round(q * 100)}_ms": total.get_response_time_percentile(q) if total.num_requests else None for q in LOCUST_OWN_Q},
        "note": "Locust rounds each response time into buckets before its percentiles; the exact figures are in samples",
    }


def _fresh_writer(path: Path) -> results.RunWriter:
    """A writer for ``path``; samples and metadata of an earlier run there are removed (a rerun replaces it)."""
    stale = sorted((path / "samples").glob("part-*.npz")) + [p for p in (path / "meta.json",) if p.exists()]
    if stale:
        log.warning("%s held an earlier run; replacing it", path)
        for p in stale:
            p.unlink()
    return results.RunWriter(path)


def _options(expect_workers: int) -> Any:
    parser = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(parser)
    return parser.parse(args=["--expect-workers", str(max(expect_workers, 1))])


def _samples_header(recorder: rec_mod.Recorder) -> results.Samples:
    return results.Samples.empty(
        names=recorder.table(recorder.names), groups=recorder.table(recorder.groups), error_kinds=recorder.table(recorder.errors)
    )


def _samples(writer: results.RunWriter | None, sink: _Sink, header: results.Samples) -> results.Samples:
    if writer is not None:
        return results.load(writer.path).samples
    cols = {
        k: np.concatenate([c[k] for c in sink.chunks]).astype(v) if sink.chunks else np.zeros(0, dtype=v)
        for k, v in results.SAMPLE_DTYPES.items()
    }
    return results.Samples(**cols, names=header.names, groups=header.groups, error_kinds=header.error_kinds)


def _phase_at(phases: tuple[results.Phase, ...], t: float) -> results.Phase | None:
    for p in phases:
        if p.start_s <= t < p.end_s:
            return p
    return None


def _drive(
    runner: Runner,
    recorder: rec_mod.Recorder,
    monitor: GeneratorMonitor,
    shape: ProfileShape,
    scale: float,
    t0: float,
    users_per_s: list[float],
    deploy_per_s: list[float],
    cpu_per_s: list[float],
    lost: list[str],
    worker_cpu: WorkerCpu,
    local: _LocalWorkers | None,
    report: Progress,
    write_meta: Any,
    signals: _SignalForwarder,
) -> None:
    """Sample once a second until the profile ends (or the runner stops); a saturation search chooses its
    next step here."""
    last_flush = last_spill = time.monotonic()
    known_dead: set[int] = set()
    missing_seen: set[str] = set()
    while True:
        second = len(users_per_s)
        gevent.sleep(max(t0 + second + TICK_S - time.time(), 0.0))
        signals.check()
        elapsed = time.time() - t0
        if shape.search is not None:
            if time.monotonic() - last_spill >= SEARCH_FLUSH_S or elapsed >= shape.search.current.end_s - TICK_S:
                recorder.spill()  # the judge sees the step's requests as they come
                last_spill = time.monotonic()
            shape.search.advance(elapsed)
        phases = tuple(seg.phase for seg in shape.segments)
        end = phases[-1].end_s
        users = int(runner.user_count)
        phase = _phase_at(phases, second)
        users_per_s.append(users)
        deploy_per_s.append(phase.deploy_users * users / phase.users if phase and phase.users else users / scale)
        cpu_per_s.append(monitor.sample(recorder.workers))
        if local is not None:
            for pid, rc, tail in local.dead():
                if pid not in known_dead:
                    known_dead.add(pid)
                    lost.append(f"local pid {pid} (exit code {rc} at {elapsed:.0f}s: {tail})")
                    log.warning("load worker %d exited with code %d at %.0fs", pid, rc, elapsed)
        if isinstance(runner, MasterRunner):
            worker_cpu.sample(heartbeats_of(runner), recorder.workers)
            for node in runner.clients.values():
                if node.state == STATE_MISSING and node.id not in missing_seen:
                    missing_seen.add(node.id)
                    if len(missing_seen) > len(known_dead):  # not one of the local processes already reported
                        lost.append(f"{node.id} (stopped sending heartbeats at {elapsed:.0f}s)")
        lat, failed_total = recorder.recent(t0 + elapsed - PROGRESS_WINDOW_S)  # before a flush empties the buffer
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


def _stop(runner: Runner, recorder: rec_mod.Recorder, worker_ids: list[str], local: _LocalWorkers | None) -> None:
    """Stop the users; on a master, collect every worker's last samples, then tell each worker to quit."""
    if isinstance(runner, MasterRunner):
        stop_at = time.time()
        if runner.state != STATE_STOPPED:
            runner.stop()
        ids = set(worker_ids) | set(recorder.workers)
        deadline = time.monotonic() + FINAL_REPORT_TIMEOUT_S
        while time.monotonic() < deadline:
            dead_pids = {pid for pid, _, _ in local.dead()} if local is not None else set()
            missing = {c.id for c in runner.clients.values() if c.state == STATE_MISSING}
            missing |= {
                cid for cid, facts in recorder.workers.items() if facts.get("pid") in dead_pids and facts.get("host") == _HOST
            }
            waiting = [
                cid
                for cid in ids - missing
                if not (recorder.workers.get(cid, {}).get("received_at", 0) > stop_at and recorder.workers[cid].get("users") == 0)
            ]
            if not waiting:
                break
            gevent.sleep(0.1)
        else:
            log.warning("not every load worker sent its last samples within %.0f s", FINAL_REPORT_TIMEOUT_S)
        for cid in ids:  # a stopped worker is off the master's client list until it re-registers: tell it directly
            runner.server.send_to_client(Message("quit", None, cid))
    runner.quit()
    if runner.greenlet is not None:
        runner.greenlet.join(timeout=5)
    if isinstance(runner, MasterRunner):
        # Locust leaves the master's socket bound when it quits: release the port, so that the next run
        # (the next configuration, on the same fixed port for remote workers) can listen on it again.
        runner.server.socket.context.destroy(linger=MASTER_CLOSE_LINGER_MS)
