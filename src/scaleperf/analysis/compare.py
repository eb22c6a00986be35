"""Which configuration is really better than which: declared expectations judged across replicate runs.

The unit of analysis is the replicate run.  Within a run, the plateau (warm-up excluded) is cut into
batches whose length is fixed before any test from the per-second series (:func:`stats.batch_length_s`);
the run's value for a metric is the mean of its batch values.  Raw per-request samples never enter a test.

Per declared expectation: a two-sided Mann-Whitney U test on the replicate values, Holm-adjusted over all
the declared expectations, Cliff's delta, a bootstrap confidence interval of the ratio of the two
configurations' means, and a practical margin.  Kruskal-Wallis across every configuration measured is
reported alongside.  A claim fails only on evidence against it; too few replicates to tell is
inconclusive, with how many would settle it.  See docs/statistics.md.

Results of different scales or load profiles are refused: the comparison comes back ``inconclusive``
with result ``refused`` and a reason naming the mismatch (a verdict, not an exception, so a report over
many expectations still shows the others).
"""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaleperf.analysis import generator, stats
from scaleperf.analysis.verdict import (
    BETTER,
    FAIL,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    NO_MEANINGFUL_DIFFERENCE,
    NOT_ENOUGH_DATA,
    PASS,
    REFUSED,
    WORSE,
    ComparisonVerdict,
)
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError
from scaleperf.results import RunResult

DEFAULT_PATH = FIXTURES / "expectations.toml"  # the committed expectations
DEFAULT_ALPHA = 0.05  # family-wise error rate over the declared comparisons (Holm)
DEFAULT_MARGIN = 0.05  # practical margin: a significant difference smaller than this fraction is not meaningful
DEFAULT_MIN_EFFECT = 0.30  # the smallest difference an expectation claims; a miss is only a fail if this was detectable
DEFAULT_CONFIDENCE = 0.95  # of the bootstrap interval of the ratio
MIN_BATCH_SAMPLES = {"p50": 10, "p95": 20, "p99": 100, "mean": 5, "error_rate": 20, "throughput": 0}  # fewer: batch skipped
PLATEAU = "plateau"
EXPECT = ("better", "worse", "same")
STATISTICS = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "mean": None, "error_rate": None, "throughput": None}
GROUPS = ("all", "polls", "auth", "writes", "reads")
_CLAIM = re.compile(r"^\s*(\S+)\s+(better than|worse than|same as)\s+(\S+)\s+on\s+(\S+)\s*$")


@dataclass(frozen=True)
class Expectation:
    """A declared claim: ``a`` is better than / worse than / the same as ``b`` on ``metric``."""

    id: str
    a: str
    b: str
    metric: str  # "<group>.<statistic>" or "throughput"
    expect: str  # "better" | "worse" | "same"
    margin: float = DEFAULT_MARGIN
    min_effect: float = DEFAULT_MIN_EFFECT

    @property
    def configs(self) -> tuple[str, str]:
        return (self.a, self.b)

    @property
    def claim(self) -> str:
        word = {"better": "better than", "worse": "worse than", "same": "same as"}[self.expect]
        return f"{self.a} {word} {self.b} on {self.metric}"


@dataclass(frozen=True)
class Metric:
    """A metric name split into its group and statistic, with its direction."""

    name: str
    group: str
    statistic: str  # p50 | p95 | p99 | mean | error_rate | throughput

    @property
    def higher_is_better(self) -> bool:
        return self.statistic == "throughput"

    @property
    def series_key(self) -> str:
        """The per-second series the batch length is fixed from."""
        if self.statistic in ("p50", "p95", "p99", "mean"):
            return {"p50": "p50_ms", "p99": "p99_ms"}.get(self.statistic, "p95_ms")
        return "fail_rps" if self.statistic == "error_rate" else "rps"


def parse_metric(name: str) -> Metric:
    """``polls.p95``, ``all.error_rate``, ``throughput`` (= ``all.throughput``); ValueError when unknown."""
    group, _, statistic = name.rpartition(".")
    group = group or "all"
    if group not in GROUPS or statistic not in STATISTICS:
        raise ValueError(f"unknown metric {name!r}: use <group>.<p50|p95|p99|mean|error_rate|throughput> or throughput")
    return Metric(name=name, group=group, statistic=statistic)


# ----------------------------------------------------------------------------------------- loading
def load_expectations(path: Path | str | None) -> list[Expectation]:
    """The expectations declared in ``path`` (default fixtures/expectations.toml).

    Format: optional ``[defaults]`` (margin, min_effect), then ``[[expectation]]`` tables with
    ``claim = "<a> better than|worse than|same as <b> on <metric>"`` and optional id, margin, min_effect.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as exc:
        raise ScaleperfError(f"{path}: file not found; create it (see fixtures/expectations.toml for the format)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(doc) - {"defaults", "expectation"}
    if unknown:
        raise ScaleperfError(f"{path}: unknown key {sorted(unknown)[0]!r}; use [defaults] and [[expectation]]")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - {"margin", "min_effect"}:
        raise ScaleperfError(f"{path}: [defaults] may hold only margin and min_effect")
    entries = doc.get("expectation", [])
    if not isinstance(entries, list):
        raise ScaleperfError(f"{path}: expectation must be an array of tables, [[expectation]]")
    out: list[Expectation] = []
    for i, entry in enumerate(entries):
        where = f"{path}: [[expectation]] #{i + 1}"
        if not isinstance(entry, dict):
            raise ScaleperfError(f"{where} must be a table")
        extra = set(entry) - {"claim", "id", "margin", "min_effect"}
        if extra:
            raise ScaleperfError(f"{where}: unknown key {sorted(extra)[0]!r}; use claim, id, margin, min_effect")
        claim = entry.get("claim")
        m = _CLAIM.match(claim) if isinstance(claim, str) else None
        if not m:
            raise ScaleperfError(f'{where}: key "claim" must read "<config> better than|worse than|same as <config> on <metric>"')
        a, word, b, metric = m.groups()
        try:
            parse_metric(metric)
        except ValueError as exc:
            raise ScaleperfError(f'{where}: key "claim": {exc}') from exc
        if a == b:
            raise ScaleperfError(f'{where}: key "claim" compares {a} with itself')
        values = {}
        for key in ("margin", "min_effect"):
            value = entry.get(key, defaults.get(key, DEFAULT_MARGIN if key == "margin" else DEFAULT_MIN_EFFECT))
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
                raise ScaleperfError(f"{where}: key {key!r} must be a fraction in [0, 1), e.g. 0.05 for 5 %")
            values[key] = float(value)
        expect = word.split()[0]
        ident = entry.get("id", f"{a}-{word.replace(' ', '-')}-{b}-on-{metric}")
        if not isinstance(ident, str) or not ident:
            raise ScaleperfError(f'{where}: key "id" must be a non-empty string')
        out.append(Expectation(id=ident, a=a, b=b, metric=metric, expect=expect, **values))
    ids = [e.id for e in out]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise ScaleperfError(f"{path}: expectation id {dupes[0]!r} is declared twice; give each a unique id")
    return out


# ------------------------------------------------------------------------------ replicate values
def plateau_windows(result: RunResult) -> list[tuple[float, float]]:
    return [p.window for p in result.phases_of(PLATEAU) if p.window[1] > p.window[0]]


def per_second(result: RunResult, metric: Metric) -> np.ndarray:
    """The run's per-second series over its plateau windows, for fixing the batch length."""
    t = result.series.get("t")
    values = result.series.get(metric.series_key)
    windows = plateau_windows(result)
    if t is None or values is None or not windows:
        return np.zeros(0)
    m = np.zeros(len(t), dtype=bool)
    for start, end in windows:
        m |= (t >= start) & (t < end)
    picked = np.asarray(values, dtype=np.float64)[m]
    return picked[np.isfinite(picked)]  # seconds without requests have no percentile


def batch_value(result: RunResult, metric: Metric, mask: np.ndarray, seconds: float) -> float:
    """The metric over the requests selected by ``mask`` (one batch); NaN when the batch is too thin."""
    n = int(mask.sum())
    if metric.statistic == "throughput":
        return n / seconds
    if n < max(1, MIN_BATCH_SAMPLES[metric.statistic]):
        return float("nan")
    if metric.statistic == "error_rate":
        return float(result.samples.failed[mask].mean())
    lat = result.samples.latency_ms[mask].astype(np.float64)
    q = STATISTICS[metric.statistic]
    return float(lat.mean()) if q is None else stats.percentile(lat, q)


def replicate_value(batch_values: np.ndarray) -> np.ndarray:
    """One run's value from its batch values (last axis): their mean, thin (NaN) batches left out."""
    x = np.asarray(batch_values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a run whose batches are all thin is NaN, and excluded
        return np.nanmean(x, axis=-1)


def run_batches(result: RunResult, metric: Metric, batch_s: float) -> np.ndarray:
    """The batch values of one run over its plateau windows."""
    values = []
    for window in plateau_windows(result):
        for edge in stats.batch_edges(window, batch_s):
            values.append(batch_value(result, metric, result.samples.mask(window=edge, group=metric.group), batch_s))
    return np.asarray(values, dtype=np.float64)


def comparison_batch_length(runs: list[RunResult], metric: Metric) -> int:
    """The batch length for a comparison: one rule, fixed from every involved run's per-second series."""
    rows = [per_second(r, metric) for r in runs]
    windows = [sum(e - s for s, e in plateau_windows(r)) for r in runs]
    shortest = min((w for w in windows if w > 0), default=0.0)
    usable = [row for row in rows if len(row) >= 3]
    if not usable:
        return max(stats.MIN_BATCH_S, int(shortest // stats.MIN_BATCHES))
    n = min(len(row) for row in usable)
    return stats.batch_length_s(np.vstack([row[:n] for row in usable]), shortest)


# --------------------------------------------------------------------------------- the decision
@dataclass(frozen=True)
class PairStats:
    """Test figures for one pair (or arrays of them, when called on stacked simulations)."""

    p_value: np.ndarray
    cliffs_delta: np.ndarray
    ratio: np.ndarray  # mean(a) / mean(b)


def pair_stats(a: np.ndarray, b: np.ndarray) -> PairStats:
    """Mann-Whitney p (two-sided), Cliff's delta and the ratio of means, along the last axis (replicates)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ma, mb = a.mean(axis=-1), b.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mb > 0, ma / np.where(mb > 0, mb, 1.0), np.where(ma > 0, np.inf, 1.0))
    return PairStats(p_value=stats.mann_whitney_p(a, b), cliffs_delta=stats.cliffs_delta(a, b), ratio=ratio)


def classify(
    p_adjusted: np.ndarray,
    ratio: np.ndarray,
    n_a: int | np.ndarray,
    n_b: int | np.ndarray,
    *,
    higher_is_better: bool,
    alpha: float = DEFAULT_ALPHA,
    margin: float = DEFAULT_MARGIN,
    family_size: int = 1,
) -> np.ndarray:
    """What the data say about ``a`` against ``b``: better, worse, no (meaningful) difference, not enough data.

    Not enough data: a side with fewer replicates than :func:`stats.min_replicates` for the family, where
    no Holm-adjusted Mann-Whitney p can reach ``alpha``.
    """
    p = np.asarray(p_adjusted, dtype=np.float64)
    ratio = np.asarray(ratio, dtype=np.float64)
    least = stats.min_replicates(family_size, alpha)
    enough = (np.asarray(n_a) >= least) & (np.asarray(n_b) >= least)
    significant = np.nan_to_num(p, nan=1.0) <= alpha
    meaningful = np.abs(ratio - 1) >= margin
    improved = ratio > 1 if higher_is_better else ratio < 1
    return np.where(
        ~enough,
        NOT_ENOUGH_DATA,
        np.where(~significant, NO_DIFFERENCE, np.where(~meaningful, NO_MEANINGFUL_DIFFERENCE, np.where(improved, BETTER, WORSE))),
    )


def claimed_ratio(expected: str, higher_is_better: bool, effect: float) -> float | None:
    """The ratio mean(a) / mean(b) at which a better/worse claim's effect is reached (None for "same").

    An effect of ``effect`` means one value is (1 + effect) times the other: "a better than b" on a
    latency claims ratio <= 1 / (1 + effect), on throughput ratio >= 1 + effect.
    """
    if expected == "same":
        return None
    a_higher = (expected == "better") == higher_is_better
    return 1 + effect if a_higher else 1 / (1 + effect)


def evidence_against(
    expected: str,
    result: str,
    ratio: float,
    ci: tuple[float, float],
    *,
    higher_is_better: bool,
    margin: float,
    min_effect: float,
) -> str | None:
    """Why the data contradict the claim, or None when they do not.

    Against a better/worse claim, unless the data show the claimed direction: a significant difference
    the other way (within the margin or not), or a confidence interval of the ratio that excludes the
    claimed effect.  Against a same claim: a significant difference beyond the margin, or an interval
    that lies wholly outside the margin.
    """
    lo, hi = ci
    if expected == "same":
        if result in (BETTER, WORSE):
            return f"a significant difference beyond the {margin:.0%} margin"
        if math.isfinite(lo) and (lo >= 1 + margin or hi <= 1 - margin):
            return f"the confidence interval of the ratio lies outside the {margin:.0%} margin"
        return None
    if result == expected:  # the claimed direction, significant and beyond the margin
        return None
    bound = claimed_ratio(expected, higher_is_better, min_effect)
    assert bound is not None
    claims_higher = bound > 1
    significant = result in (BETTER, WORSE, NO_MEANINGFUL_DIFFERENCE)
    if significant and ratio != 1 and (ratio < 1) == claims_higher:
        return "a significant difference in the opposite direction"
    if math.isfinite(lo) and (hi < bound if claims_higher else lo > bound):
        return f"the confidence interval of the ratio excludes the claimed {min_effect:.0%} effect (ratio {bound:.3g})"
    return None


def judge(expected: str, result: str, against: str | None, mde: float, min_effect: float) -> str:
    """Hold what the data say against what was expected: pass, fail or inconclusive.

    Fail only on evidence against the claim (``against``, from :func:`evidence_against`).  Pass when the
    data show the claimed direction beyond the margin, or, for a same claim, no meaningful difference
    (significant but within the margin) or no detectable difference when ``min_effect`` was detectable
    (``mde <= min_effect``).  Anything else, including too few replicates, is inconclusive.
    """
    if result in (NOT_ENOUGH_DATA, REFUSED):
        return INCONCLUSIVE
    if against is not None:
        return FAIL
    if expected == "same":
        if result == NO_MEANINGFUL_DIFFERENCE or (result == NO_DIFFERENCE and mde <= min_effect):
            return PASS
        return INCONCLUSIVE
    return PASS if result == expected else INCONCLUSIVE


# ------------------------------------------------------------------------------------- comparing
def _run_name(result: RunResult) -> str:
    return f"{result.config} r{result.meta.get('replicate', '?')}"


def _usable(runs: list[RunResult]) -> tuple[list[RunResult], list[str]]:
    kept, excluded = [], []
    for r in runs:
        if not r.complete:
            excluded.append(f"{_run_name(r)}: incomplete")
        elif not plateau_windows(r):
            excluded.append(f"{_run_name(r)}: no plateau phase")
        elif problems := [p for s, e in plateau_windows(r) for p in generator.problems(r, s, e)]:
            excluded.append(f"{_run_name(r)}: the load generator could not be trusted on the plateau ({'; '.join(problems)})")
        else:
            kept.append(r)
    return kept, excluded


def _mismatch(runs: list[RunResult]) -> str | None:
    for key in ("scale", "profile"):
        values = sorted({str(r.meta.get(key)) for r in runs})
        if len(values) > 1:
            return f"results of different {key}s ({', '.join(values)}); rerun so every configuration uses the same {key}"
    return None


@dataclass(frozen=True)
class _Measured:
    values_a: np.ndarray
    values_b: np.ndarray
    batch_s: int
    excluded: tuple[str, ...]
    reference: tuple[str, str] | None  # the pair's (scale, profile), for Kruskal-Wallis


def _setting(result: RunResult) -> tuple[str, str]:
    return (str(result.meta.get("scale")), str(result.meta.get("profile")))


_Memo = dict[tuple[int, str, int], float]  # (id of the run, metric, batch length) -> replicate value, within one compare()


def _run_value(result: RunResult, metric: Metric, batch_s: int, memo: _Memo) -> float:
    key = (id(result), metric.name, batch_s)
    if key not in memo:
        memo[key] = float(replicate_value(run_batches(result, metric, batch_s)))
    return memo[key]


def _measure(exp: Expectation, metric: Metric, results_by_config: dict[str, list[RunResult]], memo: _Memo) -> _Measured | str:
    runs_a, ex_a = _usable(results_by_config.get(exp.a, []))
    runs_b, ex_b = _usable(results_by_config.get(exp.b, []))
    mismatch = _mismatch(results_by_config.get(exp.a, []) + results_by_config.get(exp.b, []))
    if mismatch:
        return mismatch
    batch_s = comparison_batch_length(runs_a + runs_b, metric) if runs_a + runs_b else stats.MIN_BATCH_S
    excluded = [*ex_a, *ex_b]
    values: dict[str, list[float]] = {exp.a: [], exp.b: []}
    for name, runs in ((exp.a, runs_a), (exp.b, runs_b)):
        for r in runs:
            v = _run_value(r, metric, batch_s, memo)
            if math.isfinite(v):
                values[name].append(v)
            else:
                excluded.append(f"{_run_name(r)}: too few {metric.group} requests per {batch_s} s batch")
    reference = _setting((runs_a + runs_b)[0]) if runs_a + runs_b else None
    return _Measured(np.asarray(values[exp.a]), np.asarray(values[exp.b]), batch_s, tuple(excluded), reference)


def _kruskal(
    metric: Metric,
    batch_s: int,
    results_by_config: dict[str, list[RunResult]],
    reference: tuple[str, str] | None,
    memo: _Memo,
) -> float:
    """Kruskal-Wallis across every configuration given, on the runs measured at the pair's scale and profile."""
    groups = []
    for runs in results_by_config.values():
        kept, _ = _usable(runs)
        vals = [_run_value(r, metric, batch_s, memo) for r in kept if _setting(r) == reference]
        groups.append(np.asarray([v for v in vals if math.isfinite(v)]))
    return stats.kruskal_p(*groups)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def compare(
    results_by_config: dict[str, list[RunResult]],
    expectations: list[Expectation],
    *,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    family_size: int | None = None,
) -> list[ComparisonVerdict]:
    """Judge each declared expectation on the replicate runs of its two configurations.

    ``results_by_config`` maps configuration name to its replicate runs.  Holm's correction runs over
    the expectations given here, so pass every declared expectation in one call.  A caller judging
    them one at a time passes ``family_size`` (how many are declared): the p-values not computed here
    are then taken as 1, which makes the adjustment conservative (never smaller than Holm's over all).
    The family size also sets the fewest replicates per side that can reach significance
    (:func:`stats.min_replicates`), the minimum detectable effect and the replicates needed.

    The pairwise test uses the expectation's two configurations; Kruskal-Wallis uses every configuration
    in ``results_by_config`` measured at the pair's scale and profile.
    """
    metrics = {e.id: parse_metric(e.metric) for e in expectations}
    memo: _Memo = {}
    measured = {e.id: _measure(e, metrics[e.id], results_by_config, memo) for e in expectations}
    raw_p: list[float] = []
    for e in expectations:
        m = measured[e.id]
        if isinstance(m, _Measured) and len(m.values_a) and len(m.values_b):
            raw_p.append(float(stats.mann_whitney_p(m.values_a, m.values_b)))
        else:
            raw_p.append(float("nan"))
    family = max(family_size or 0, len(expectations))
    padding = family - len(raw_p)
    adjusted = stats.holm([*raw_p, *([1.0] * padding)])[: len(raw_p)]
    verdicts = []
    for e, p, p_adj in zip(expectations, raw_p, adjusted, strict=True):
        verdicts.append(
            _verdict(e, metrics[e.id], measured[e.id], p, float(p_adj), results_by_config, alpha, confidence, family, memo)
        )
    return verdicts


def _verdict(
    e: Expectation,
    metric: Metric,
    m: _Measured | str,
    p: float,
    p_adj: float,
    results_by_config: dict[str, list[RunResult]],
    alpha: float,
    confidence: float,
    family: int,
    memo: _Memo,
) -> ComparisonVerdict:
    common = dict(
        kind="comparison",
        subject=e.claim,
        expectation_id=e.id,
        metric=e.metric,
        a=e.a,
        b=e.b,
        expected=e.expect,
        alpha=alpha,
        margin=e.margin,
        confidence=confidence,
    )
    if isinstance(m, str):
        figures = {"expectation": e.id, "claim": e.claim, "result": REFUSED, "refused": m}
        return ComparisonVerdict(
            outcome=INCONCLUSIVE, reason=f"{e.claim}: refused, {m}", figures=figures, result=REFUSED, **common
        )
    a, b = m.values_a, m.values_b
    n_a, n_b = len(a), len(b)
    ps = pair_stats(a, b) if n_a and n_b else None
    ratio = float(ps.ratio) if ps else float("nan")
    delta = float(ps.cliffs_delta) if ps else float("nan")
    higher = metric.higher_is_better
    least = stats.min_replicates(family, alpha)
    result = str(classify(p_adj, ratio, n_a, n_b, higher_is_better=higher, alpha=alpha, margin=e.margin, family_size=family))
    rel_sd = stats.relative_sd(a, b)
    mde = stats.mde(rel_sd, n_a, n_b, alpha=alpha, family_size=family)
    needed = stats.replicates_needed(rel_sd, e.min_effect, alpha=alpha, family_size=family)
    ci = stats.bootstrap_ratio_ci(a, b, confidence=confidence) if n_a >= 2 and n_b >= 2 else (float("nan"), float("nan"))
    kw = _kruskal(metric, m.batch_s, results_by_config, m.reference, memo)
    against = None
    if result not in (NOT_ENOUGH_DATA, REFUSED):
        against = evidence_against(e.expect, result, ratio, ci, higher_is_better=higher, margin=e.margin, min_effect=e.min_effect)
    outcome = judge(e.expect, result, against, mde, e.min_effect)

    said = f"{e.a} {result} than {e.b}" if result in (BETTER, WORSE) else result
    numbers = (
        f"ratio {_fmt(ratio)} (CI {_fmt(ci[0])}-{_fmt(ci[1])}), Holm p {_fmt(p_adj, 2)}, "
        f"Cliff's delta {_fmt(delta, 2)}, n {n_a}/{n_b}"
    )
    more = needed or f"more than {stats.MAX_REPLICATES_SEARCH}"
    if result == NOT_ENOUGH_DATA:
        detail = (
            f"{n_a} and {n_b} usable replicates; with {family} declared comparison{'s' if family > 1 else ''} "
            f"Mann-Whitney needs at least {least} per side to reach Holm-adjusted p <= {alpha:g}; "
            f"about {more} replicates per configuration would detect {e.min_effect:.0%}"
        )
    elif result == NO_DIFFERENCE:
        detail = f"minimum detectable effect {_fmt(mde * 100, 2)} % at this n; {numbers}"
    elif result == NO_MEANINGFUL_DIFFERENCE:
        detail = f"significant but within the {e.margin:.0%} margin; {numbers}"
    else:
        detail = numbers
    if against is not None:
        detail += f"; against the claim: {against}"
    elif outcome == INCONCLUSIVE and result != NOT_ENOUGH_DATA:
        if needed is None or needed > min(n_a, n_b):
            detail += f"; about {more} replicates per configuration would detect {e.min_effect:.0%}"
        else:
            detail += f"; the {confidence:.0%} interval still allows {e.min_effect:.0%}, more replicates would narrow it"
    reason = f"{e.claim}: {outcome}, data say {said}; {detail}"

    def clean(x: float) -> float | None:
        return x if math.isfinite(x) else None

    figures = {
        "expectation": e.id,
        "claim": e.claim,
        "metric": e.metric,
        "a": e.a,
        "b": e.b,
        "expected": e.expect,
        "result": result,
        "values_a": a.tolist(),
        "values_b": b.tolist(),
        "n_a": n_a,
        "n_b": n_b,
        "estimate_a": clean(float(a.mean())) if n_a else None,
        "estimate_b": clean(float(b.mean())) if n_b else None,
        "ratio": clean(ratio),
        "ratio_ci": [clean(ci[0]), clean(ci[1])],
        "confidence": confidence,
        "p_value": clean(p),
        "p_holm": clean(p_adj),
        "cliffs_delta": clean(delta),
        "kruskal_p": clean(kw),
        "alpha": alpha,
        "margin": e.margin,
        "min_effect": e.min_effect,
        "mde": clean(mde),
        "replicates_needed": needed,
        "family_size": family,
        "min_replicates": least,
        "against": against,
        "batch_s": m.batch_s,
        "excluded": list(m.excluded),
    }
    return ComparisonVerdict(
        outcome=outcome,
        reason=reason,
        figures=figures,
        result=result,
        values_a=tuple(a.tolist()),
        values_b=tuple(b.tolist()),
        n_a=n_a,
        n_b=n_b,
        estimate_a=figures["estimate_a"],
        estimate_b=figures["estimate_b"],
        ratio=clean(ratio),
        ratio_ci=(ci[0], ci[1]) if math.isfinite(ci[0]) else None,
        p_value=clean(p),
        p_holm=clean(p_adj),
        cliffs_delta=clean(delta),
        kruskal_p=clean(kw),
        mde=clean(mde),
        replicates_needed=needed,
        batch_s=m.batch_s,
        excluded=m.excluded,
        **common,
    )
