"""Verdicts: what analysis concludes about a run or a set of runs, as plain frozen data.

Every verdict has the base shape of :class:`Verdict` (kind, subject, outcome, one-line reason, and a
JSON-serialisable ``figures`` dict holding every number a report needs).  The subclasses carry the same
numbers as typed fields, for code that prefers attributes to dict keys.

``outcome`` is always one of ``"pass"``, ``"fail"`` or ``"inconclusive"``; the richer, kind-specific
answer (a saturation ``value``/``range``/``not reached``, a comparison ``better``/``worse``/...) is in
``result``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
OUTCOMES = (PASS, FAIL, INCONCLUSIVE)

# Saturation results.
SAT_VALUE = "value"  # one step is the saturation point; the cross-checks agree with it
SAT_RANGE = "range"  # the step and the cross-checks (USL peak, knee) disagree: a range
SAT_NOT_REACHED = "not reached"  # the last step still met the SLOs and tracked the load
SAT_BELOW = "below first step"  # the first step already broke an SLO or stopped tracking
SAT_INCONCLUSIVE = "inconclusive"  # the generator saturated first, the run is incomplete, or no steps

# Comparison results (what the data say, before being held against the expectation).
BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no detectable difference"
NO_MEANINGFUL_DIFFERENCE = "no meaningful difference"  # significant, but smaller than the practical margin
NOT_ENOUGH_DATA = "not enough data"
REFUSED = "refused"  # results that must not be compared (different scales or profiles)


@dataclass(frozen=True)
class Verdict:
    """The base shape every verdict shares (contract 4)."""

    kind: str  # "slo" | "saturation" | "comparison"
    subject: str  # what was judged, e.g. "single: polls.p95 < 250 ms"
    outcome: str  # "pass" | "fail" | "inconclusive"
    reason: str  # one line a person can read
    figures: dict = field(default_factory=dict)  # JSON-serialisable numbers behind the verdict

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    @property
    def inconclusive(self) -> bool:
        return self.outcome == INCONCLUSIVE


@dataclass(frozen=True)
class SloVerdict(Verdict):
    """One SLO judged over every replicate of one configuration."""

    config: str = "?"
    slo_id: str = ""  # e.g. "polls.p95<250ms"
    group: str = "all"  # endpoint group, or "all"
    metric: str = ""  # "p50" | "p95" | "p99" | "mean" | "error_rate" | "throughput"
    op: str = "<"  # "<" | "<=" | ">" | ">="
    threshold: float = float("nan")  # in ``unit``
    measured: float | None = None  # in ``unit``; None when nothing could be measured
    unit: str = ""  # "ms" | "ratio" | "req/s"
    n_samples: int = 0  # requests pooled over every usable replicate's judged windows
    interval: tuple[float, float] | None = None  # confidence interval of the pooled metric (bounds may be infinite)
    replicates: tuple[dict, ...] = ()  # each replicate's own value: {"replicate", "measured", "n", "excluded"}


@dataclass(frozen=True)
class StepStat:
    """What one load step measured after its warm-up."""

    label: str
    users: int  # local (generated) users
    deploy_users: int  # deployment-scale users
    window: tuple[float, float]
    n_samples: int
    p95_ms: float  # all requests of the step
    error_rate: float
    achieved_rps: float  # requests completed per second in the window
    offered_rps: float  # what the load would produce if the target kept up (see saturation.py)
    tracking: float  # achieved / offered
    slo_ok: bool  # every latency and error-rate SLO held on this step
    tracks: bool  # tracking >= the tracking floor
    failed_slos: tuple[str, ...] = ()  # ids of the SLOs that broke on this step
    gen_cpu_p95_pct: float | None = None  # load-generator CPU during the step, when the series has it

    @property
    def holds(self) -> bool:
        return self.slo_ok and self.tracks


@dataclass(frozen=True)
class UslFit:
    """Universal Scalability Law fit X(N) = lam*N / (1 + sigma*(N-1) + kappa*N*(N-1)), N in deployment users."""

    lam: float  # throughput per user at N = 1 (req/s, local scale)
    sigma: float  # contention
    kappa: float  # coherency
    r_squared: float
    peak_users: float | None  # sqrt((1 - sigma) / kappa); None when kappa is ~0 (no retrograde region)
    peak_rps: float | None  # X at peak_users
    ceiling_rps: float | None  # lam/sigma, the asymptote when kappa is ~0 (Amdahl); None when sigma is ~0


@dataclass(frozen=True)
class SaturationVerdict(Verdict):
    """Where one run's configuration saturates, from its step phases."""

    config: str = "?"
    result: str = SAT_INCONCLUSIVE  # SAT_* above
    users: int | None = None  # saturation point in deployment users (the lower bound when "not reached")
    rps: float | None = None  # achieved throughput at ``users`` (req/s as measured, local scale)
    users_range: tuple[float, float] | None = None  # when result is "range"
    rps_range: tuple[float, float] | None = None
    capacity_rps: float | None = None  # highest throughput sustained by any step
    minimum_users: int | None = None  # the declared minimum for this configuration, if any
    steps: tuple[StepStat, ...] = ()
    usl: UslFit | None = None
    knee_users: float | None = None  # Kneedle knee of throughput against deployment users
    scale: float = 1.0  # local users = deploy users x scale


@dataclass(frozen=True)
class ComparisonVerdict(Verdict):
    """One declared expectation between two configurations, judged across replicate runs."""

    expectation_id: str = ""
    metric: str = ""  # e.g. "polls.p95", "all.error_rate", "throughput"
    a: str = ""  # the configuration the expectation is about ("a is better than b")
    b: str = ""
    expected: str = BETTER  # "better" | "worse" | "same"
    result: str = NOT_ENOUGH_DATA  # BETTER/WORSE/NO_DIFFERENCE/NO_MEANINGFUL_DIFFERENCE/NOT_ENOUGH_DATA/REFUSED
    values_a: tuple[float, ...] = ()  # one summary per replicate run (batch means over the plateau)
    values_b: tuple[float, ...] = ()
    n_a: int = 0
    n_b: int = 0
    estimate_a: float | None = None  # mean of the replicate values
    estimate_b: float | None = None
    ratio: float | None = None  # estimate_a / estimate_b
    ratio_ci: tuple[float, float] | None = None  # confidence interval of the ratio (t-interval on log replicate values)
    confidence: float = 0.95  # of ratio_ci: 1 - alpha / family size
    p_value: float | None = None  # two-sided Mann-Whitney U
    p_holm: float | None = None  # adjusted for the family (Holm's first step: p x family size)
    cliffs_delta: float | None = None  # P(a > b) - P(a < b) over replicate values
    kruskal_p: float | None = None  # Kruskal-Wallis across every configuration measured on this metric
    alpha: float = 0.05
    min_effect: float = 0.30  # the one effect size the claim is about
    mde: float | None = None  # minimum detectable relative effect at this n (80% power)
    replicates_needed: int | None = None  # per configuration, to reach a decision
    batch_s: float | None = None  # batch length used within each replicate (None: capacity from the load steps)
    excluded: tuple[str, ...] = ()  # replicate runs left out, with why


# ------------------------------------------------------------------------------- plain data, both ways
_KINDS = {"slo": SloVerdict, "saturation": SaturationVerdict, "comparison": ComparisonVerdict}


def _plain(x: object) -> object:
    """JSON-ready: tuples as lists, non-finite floats as None, nested dataclasses as dicts."""
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if hasattr(x, "__dataclass_fields__"):
        return {k: _plain(getattr(x, k)) for k in x.__dataclass_fields__}
    return x


def to_json(v: Verdict) -> dict:
    """A verdict as JSON-ready data (:func:`from_json` gives it back)."""
    return _plain(v)  # type: ignore[return-value]


def _tuple(x: object) -> object:
    return tuple(_tuple(v) for v in x) if isinstance(x, list) else x


def from_json(d: dict) -> Verdict:
    """The verdict :func:`to_json` wrote (unbounded interval ends come back as None)."""
    cls = _KINDS.get(d.get("kind", ""), Verdict)
    fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
    for k, v in list(fields.items()):
        if k in ("figures",):
            continue
        if k == "steps":
            fields[k] = tuple(_step(s) for s in v)
        elif k == "usl" and isinstance(v, dict):
            fields[k] = UslFit(**v)
        elif k == "replicates":
            fields[k] = tuple(v)
        elif isinstance(v, list):
            fields[k] = _tuple(v)
    return cls(**fields)


def _step(s: dict) -> StepStat:
    nan = float("nan")
    fixed = {k: (nan if s.get(k) is None else s[k]) for k in ("p95_ms", "error_rate", "offered_rps", "tracking", "achieved_rps")}
    return StepStat(**{**s, **fixed, "window": tuple(s["window"]), "failed_slos": tuple(s["failed_slos"])})


def key(v: Verdict) -> str:
    """A verdict's stable name in a session: ``slo/<config>/<slo id>``, ``saturation/<config>``, ``comparison/<id>``."""
    if isinstance(v, SloVerdict):
        return f"slo/{v.config}/{v.slo_id}"
    if isinstance(v, SaturationVerdict):
        return f"saturation/{v.config}"
    if isinstance(v, ComparisonVerdict):
        return f"comparison/{v.expectation_id}"
    return f"{v.kind}/{v.subject}"
