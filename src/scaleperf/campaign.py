"""A campaign: the runs one session makes, in order, and their results.

For each replicate, for each selected configuration (interleaved A B C D A B C D ..., so that drift
over time hits every configuration alike): provision the configuration (or reuse the deployment that
is already up), reset its data, run the load profile and keep the result.  Results are cached, so
every test that reads a configuration's results shares one run.  Local load phases hold a machine-wide
lock, so that two sessions (or xdist workers) never measure at the same time on one machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scaleperf import paths
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError
from scaleperf.providers.base import Deployment, Provider
from scaleperf.results import RunResult, run_dir
from scaleperf.search import LatencyLimit, StepCriteria

log = logging.getLogger(__name__)

LOCK_NAME = "load.lock"  # in scaleperf's per-user folder: one load phase at a time on this machine

# What a configuration's undecided comparisons still read from its runs (the still_needed callback's answer:
# configuration -> a set of these).  A round runs a configuration's load steps only where CAPACITY is asked.
PLATEAU = "plateau"  # latency and error-rate claims: the plateau
CAPACITY = "capacity"  # throughput claims: the capacity found by the load steps
Pending = dict[str, set[str]]


def new_run_id() -> str:
    """``SCALEPERF_RUN_ID`` when set (so several sessions write into one run), else a fresh id."""
    return os.environ.get("SCALEPERF_RUN_ID") or time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


@contextlib.contextmanager
def machine_lock(wait_message: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the machine-wide load lock (an flock, released even if the process dies)."""
    path = paths.home() / LOCK_NAME
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message:
                wait_message("another load run holds this machine; waiting for it to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class CampaignSettings:
    run_id: str
    results_dir: Path
    profile: str
    replicates: int
    locustfile: Path
    interleave: bool = True  # False under xdist: each worker runs only the configurations it was given
    workers: int = 0
    expect_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int | None = None  # None: Locust's default for remote workers, a free port for local ones
    progress: bool = True
    extra_meta: dict = field(default_factory=dict)
    auto: bool = False  # --replicates auto: rounds until still_needed() is empty, at most `replicates` rounds
    max_minutes: float | None = None  # --max-minutes: no round starts that would end past this budget


@dataclass
class RunFailure:
    """A configuration whose deployment or run failed; its tests report this instead of re-trying."""

    config: str
    message: str


class Campaign:
    """Runs the selected configurations' load profiles once and hands out their results."""

    def __init__(
        self,
        settings: CampaignSettings,
        provider: Provider,
        configs: list[ScalingConfig],
        say: Callable[[str], None],
        live: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        still_needed: Callable[[dict[str, list[RunResult]]], Pending] | None = None,
    ):
        self.still_needed = still_needed  # after each round: what each configuration's undecided comparisons read
        self._steps_needed: set[str] | None = None  # auto rounds after the first: who runs load steps; None: all
        self.settings = settings
        self.live = live  # a context in which the load engine may write its live progress line
        self.provider = provider
        self.configs = configs
        self.say = say
        self._results: dict[str, list[RunResult]] = {}
        self._failures: dict[str, RunFailure] = {}
        self._stack = contextlib.ExitStack()
        self._open: tuple[str, Deployment] | None = None

    # -- deployments ---------------------------------------------------------------------------
    def deployment_for(self, config: ScalingConfig) -> Deployment:
        """The running deployment of ``config``; the one open before it is torn down first.

        A configuration that failed before is not provisioned again: its failure is raised at once.
        """
        if self._open and self._open[0] == config.name:
            return self._open[1]
        self._raise_if_failed(config)
        self.close_deployment()
        self.say(f"provisioning {config.name} on {self.provider.name} ...")
        started = time.monotonic()
        stack = contextlib.ExitStack()
        try:
            deployment = stack.enter_context(self.provider.provision(config))
        except Exception as exc:
            stack.close()
            self._fail(config, f"{config.name}: provisioning failed", exc)
            raise ScaleperfError(self._failures[config.name].message) from exc
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._open = (config.name, deployment)
        self.say(f"{config.name} is up at {deployment.base_url} ({time.monotonic() - started:.1f}s)")
        return deployment

    def close_deployment(self) -> None:
        if self._open is not None:
            name = self._open[0]
            self._open = None
            self.say(f"tearing down {name} ...")
            self._stack.close()

    def close(self) -> None:
        self.close_deployment()

    # -- runs ------------------------------------------------------------------------------------
    def results(self, config: ScalingConfig) -> list[RunResult]:
        """Every replicate's result for ``config``, running the campaign on first use."""
        if config.name not in self._results and config.name not in self._failures:
            group = self.configs if self.settings.interleave else [config]
            self._run([c for c in group if c.name not in self._results and c.name not in self._failures])
        self._raise_if_failed(config)
        return self._results[config.name]

    def _raise_if_failed(self, config: ScalingConfig) -> None:
        if config.name in self._failures:
            raise ScaleperfError(self._failures[config.name].message)

    def _fail(self, config: ScalingConfig, tag: str, exc: Exception) -> None:
        """Record ``config``'s failure once (any exception, not only a user's mistake); later tests read it."""
        if config.name in self._failures:
            return
        text = str(exc) if isinstance(exc, ScaleperfError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, ScaleperfError):
            log.error("%s failed", tag, exc_info=exc)  # not a user's mistake: keep the traceback in the log
        self._failures[config.name] = RunFailure(config.name, f"{tag}: {text}")
        self.say(f"FAILED {tag}: {text}")

    def _run(self, configs: list[ScalingConfig]) -> None:
        from scaleperf import load  # the only module that imports locust; loaded when load is first needed

        full = load.load_profile(self.settings.profile)
        criteria = step_criteria(self.provider.name) if full.has_search else None
        for replicate, round_configs in self._rounds(configs):
            for config in round_configs:
                if config.name in self._failures:
                    continue
                tag = f"{config.name} (replicate {replicate}/{self.settings.replicates})"
                profile, left_out = self._profile_for(config, full)
                try:
                    deployment = self.deployment_for(config)
                    deployment.reset_data()
                    scale = self.provider.load_scale(config)
                    meta = {
                        "config": config.name,
                        # a deployment given by URL is what its user told us; the catalogue's shape is not claimed for it
                        "config_facts": config.describe() if self.provider.name != "url" else {"name": config.name},
                        "run_id": self.settings.run_id,
                        "replicate": replicate,
                        "replicates": self.settings.replicates,
                        **({"sequential": {"max_rounds": self.settings.replicates}} if self.settings.auto else {}),
                        "provider": self.provider.name,
                        "deployment": deployment.describe(),
                        "scale_reason": scale.reason,
                        **({"left_out": left_out} if left_out else {}),
                        **self.settings.extra_meta,
                    }
                    out = run_dir(self.settings.results_dir, self.settings.run_id, config.name, replicate)
                    shown = f"{self.settings.profile}{' without its load steps' if left_out else ''}"
                    self.say(f"load: {tag}, profile {shown}, scale {scale.factor:g} -> {out}")
                    with machine_lock(self.say), self.live():
                        result = load.run(
                            deployment.base_url,
                            self.settings.locustfile,
                            profile,
                            scale=scale.factor,
                            out_dir=out,
                            meta=meta,
                            deployment=deployment,
                            workers=self.settings.workers,
                            expect_workers=self.settings.expect_workers,
                            master_bind=self.settings.master_bind,
                            master_port=self.settings.master_port,
                            progress=self.settings.progress,
                            step_criteria=criteria if profile.has_search else None,
                        )
                except Exception as exc:  # anything, on AWS an hour and money per try: this configuration is done
                    self._fail(config, tag, exc)
                    self.close_deployment()
                    continue
                self._results.setdefault(config.name, []).append(result)

    def _profile_for(self, config: ScalingConfig, full):
        """The profile of ``config``'s next run, and why part of it is left out (None when nothing is).

        Auto rounds after the first leave out the load steps of a configuration none of whose undecided
        comparisons reads its capacity: its latency claims are read on the plateau alone, and its saturation
        point was found in the first round (a throughput claim keeps the steps in every round until it is
        decided)."""
        if self._steps_needed is None or config.name in self._steps_needed or not full.has_load_steps:
            return full, None
        return full.without_load_steps(), (
            "load steps: no undecided comparison reads this configuration's capacity, and its saturation point "
            "comes from the rounds that ran them"
        )

    # -- rounds ----------------------------------------------------------------------------------
    def _rounds(self, configs: list[ScalingConfig]) -> Iterator[tuple[int, list[ScalingConfig]]]:
        """The rounds of a campaign: every configuration once per round, ``replicates`` rounds.

        With ``auto``, a configuration leaves the rounds once ``still_needed`` (asked after every round)
        no longer names it, the rounds end when it names none, and no round starts that the
        ``max_minutes`` budget would not cover at the mean length of the runs so far.  After the first
        round, a configuration runs load steps only while ``still_needed`` says a comparison reads its
        capacity.  Auto rounds alternate their order (A B C D, D C B A, ...) so that a steady drift of the
        machine over the campaign falls alike on every configuration.
        """
        if not self.settings.auto:
            for replicate in range(1, self.settings.replicates + 1):
                yield replicate, configs
            return
        started, runs, needed = time.monotonic(), 0, list(configs)
        for replicate in range(1, self.settings.replicates + 1):
            if replicate > 1 and self.still_needed is not None:
                pending = self.still_needed(
                    {c.name: list(self._results.get(c.name, [])) for c in configs if c.name not in self._failures}
                )
                needed = [c for c in needed if c.name in pending and c.name not in self._failures]
                self._steps_needed = {name for name, reads in pending.items() if CAPACITY in reads}
                if not needed:
                    self.say(f"every declared comparison is decided after {replicate - 1} round(s)")
                    return
            spent = time.monotonic() - started
            if (
                self.settings.max_minutes is not None
                and runs
                and spent + spent / runs * len(needed) > self.settings.max_minutes * 60
            ):
                self.say(
                    f"--max-minutes {self.settings.max_minutes:g}: no time for round {replicate}; stopping after {replicate - 1}"
                )
                return
            if replicate > 1:
                self.say(f"round {replicate}: {', '.join(c.name for c in needed)} (comparisons still undecided)")
            runs += len(needed)
            yield replicate, round_order(needed, replicate)


def round_order(configs: list, replicate: int) -> list:
    """An auto round's order: as given in odd rounds, reversed in even ones."""
    return list(configs) if replicate % 2 else list(reversed(configs))


def parse_replicates(raw, max_minutes=None) -> tuple[bool, int, float | None]:
    """``--replicates N`` or ``auto[:MAX]``, and ``--max-minutes``: (auto, replicates or most rounds, minutes)."""
    from scaleperf.analysis.sequential import DEFAULT

    text = str(raw).strip()
    auto = text == "auto" or text.startswith("auto:")
    replicates = int(text[5:]) if text.startswith("auto:") else DEFAULT.max_rounds if auto else int(text)
    if auto and replicates < DEFAULT.min_rounds:
        raise ScaleperfError(f"--replicates auto:MAX needs MAX of at least {DEFAULT.min_rounds}, the first look")
    minutes = float(max_minutes) if max_minutes not in (None, "") else None
    if minutes is not None and (not auto or not minutes > 0):
        raise ScaleperfError("--max-minutes needs --replicates auto and a number of minutes above 0")
    return auto, replicates, minutes


def comparisons_pending(
    expectations: list | None = None, *, family_size: int | None = None, max_rounds: int | None = None
) -> Callable[[dict[str, list[RunResult]]], Pending]:
    """The ``still_needed`` callback of auto rounds: the configurations of every declared comparison that
    :func:`scaleperf.analysis.compare.compare` does not decide yet (the sequential test at the rounds run so far,
    as every reader of the verdicts decides it), each with what those comparisons read (:data:`PLATEAU`,
    :data:`CAPACITY`).  Comparisons whose configurations are not both in the rounds are left to the rest of
    the session."""
    from scaleperf.analysis import compare, sequential
    from scaleperf.analysis.verdict import INCONCLUSIVE, REFUSED

    rounds = max_rounds or sequential.DEFAULT.max_rounds
    expectations = compare.load_expectations(None) if expectations is None else expectations
    family_size = family_size or len(expectations)  # the declared family, as the perf tests judge it

    def still_needed(results_by_config: dict[str, list[RunResult]]) -> Pending:
        pending: Pending = {}
        for e in expectations:
            if e.a not in results_by_config or e.b not in results_by_config:
                continue
            pair = {e.a: results_by_config[e.a], e.b: results_by_config[e.b]}
            [v] = compare.compare(pair, [e], family_size=family_size, max_rounds=rounds)
            if v.result == REFUSED:  # more rounds of the same runs cannot make it judgeable
                continue
            if v.outcome == INCONCLUSIVE and v.replicates_needed is not None:  # decided as every reader decides it
                reads = CAPACITY if compare.parse_metric(e.metric).statistic == "throughput" else PLATEAU
                for name in (e.a, e.b):
                    pending.setdefault(name, set()).add(reads)
        return pending

    return still_needed


def step_criteria(provider: str) -> StepCriteria:
    """What a saturation search's step must hold: the provider's latency percentile and error-rate SLOs (as
    the saturation analysis judges steps), and throughput tracking the offered load."""
    from scaleperf.analysis import saturation, slo

    slos = slo.load_slos(None, provider)
    latency = tuple(
        LatencyLimit(group=s.group, percentile=slo.LATENCY_METRICS[s.metric], limit_ms=s.threshold)
        for s in slos
        if s.latency and slo.LATENCY_METRICS.get(s.metric) is not None and s.op in ("<", "<=")
    )
    error_limits = [s.threshold for s in slos if s.metric == "error_rate" and s.op in ("<", "<=")]
    return StepCriteria(
        latency=latency,
        max_error_rate=min(error_limits) if error_limits else StepCriteria().max_error_rate,
        tracking_floor=saturation.TRACKING_FLOOR,
    )
