"""The report's figures, drawn from results and verdicts with matplotlib (Agg, no display, no pyplot state).

Every function returns a :class:`matplotlib.figure.Figure` with a title, axis labels with units and a
legend, so tests can inspect it; :func:`png` turns one into PNG bytes.  Colours come from
:mod:`scaleperf.report.colors`: one per configuration in every plot.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scaleperf.analysis import stats
from scaleperf.analysis.verdict import SAT_RANGE, ComparisonVerdict, SaturationVerdict
from scaleperf.report import colors
from scaleperf.results import RunResult

DPI = 80  # pixels per inch of the PNGs: small files, readable text
SIZE = (8.0, 3.6)  # inches, one-panel figures
TALL = (8.0, 5.4)  # inches, two-panel figures
PHASE_SHADES = {"ramp": "#f0f0f0", "plateau": "#e3eefa", "step": "#fdf0e0"}  # background of each phase kind
MIN_PCT_AXIS = 10.0  # percent axes show at least 0-10 %, so noise near zero does not look like a load
CI_LEVEL = 0.95  # confidence level of the per-configuration intervals in the comparison plot


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # constrained layout already fits the labels
    return buf.getvalue()


def _figure(size: tuple[float, float] = SIZE, rows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _label(result: RunResult) -> str:
    replicate = result.meta.get("replicate")
    return result.config if replicate is None else f"{result.config} r{replicate}"


def _shade_phases(ax: Axes, result: RunResult) -> None:
    """Background bands for the profile's phases; the warm-up of each is hatched."""
    for p in result.phases:
        kind = "step" if p.kind.startswith("step") else p.kind
        ax.axvspan(p.start_s, p.end_s, color=PHASE_SHADES.get(kind, "#f7f7f7"), lw=0, zorder=0)
        if p.warmup_s > 0:
            ax.axvspan(p.start_s, p.start_s + p.warmup_s, facecolor="none", hatch="//", edgecolor="#cccccc", lw=0, zorder=0)


def _series(result: RunResult, key: str) -> np.ndarray | None:
    value = result.series.get(key)
    return None if value is None or len(value) == 0 else np.asarray(value, dtype=np.float64)


def _legend(ax: Axes, **kwargs) -> None:
    """A legend when ``ax`` has labelled artists (matplotlib warns on an empty one)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes, color="#666666")


# ---------------------------------------------------------------------------------------- one run
def latency_over_time(result: RunResult, slos: list | None = None) -> Figure:
    """p50/p95/p99 per second over the run, latency SLO thresholds as horizontal lines."""
    fig, (ax,) = _figure()
    _shade_phases(ax, result)
    t = _series(result, "t")
    color = colors.config_color(result.config)
    drawn = False
    for key, style in colors.PERCENTILE_STYLES.items():
        y = _series(result, f"{key}_ms")
        if t is not None and y is not None:
            ax.plot(t, y, style, color=color, lw=1.3, label=f"{key} (all requests)")
            drawn = True
    for slo in slos or []:
        if getattr(slo, "latency", False):
            ax.axhline(slo.threshold, color=colors.SLO_COLOR, ls="-.", lw=1, label=f"SLO {slo.describe()}")
    if not drawn:
        _no_data(ax, "latency series")
    ax.set_title(f"{_label(result)}: response time percentiles per second")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("response time (ms)")
    _legend(ax, loc="upper left", fontsize=7, ncols=2)
    return fig


def load_over_time(result: RunResult) -> Figure:
    """Users (local, and deployment-scale on a second axis when scaled) and requests/s over the run."""
    fig, (top, bottom) = _figure(TALL, rows=2)
    color = colors.config_color(result.config)
    t = _series(result, "t")
    users = _series(result, "users")
    for ax in (top, bottom):
        _shade_phases(ax, result)
    if t is not None and users is not None:
        top.plot(t, users, color=color, lw=1.5, label="users (load generator)")
    else:
        _no_data(top, "users series")
    scale = result.scale
    if scale != 1.0 and scale > 0:
        second = top.secondary_yaxis("right", functions=(lambda u: u / scale, lambda d: d * scale))
        second.set_ylabel(f"deployment-scale users (local / {scale:g})")
    top.set_ylabel("users (local)")
    top.set_title(f"{_label(result)}: load offered and requests served")
    _legend(top, loc="upper left", fontsize=7)
    rps, fail = _series(result, "rps"), _series(result, "fail_rps")
    if t is not None and rps is not None:
        bottom.plot(t, rps, color=color, lw=1.2, label="requests/s")
        if fail is not None:
            bottom.plot(t, fail, color=colors.SLO_COLOR, lw=1, label="failures/s")
    else:
        _no_data(bottom, "throughput series")
    bottom.set_xlabel("time since start (s)")
    bottom.set_ylabel("requests per second (req/s)")
    _legend(bottom, loc="upper left", fontsize=7)
    return fig


def error_rate_over_time(result: RunResult, slos: list | None = None) -> Figure:
    """Failed requests as a percentage of all requests, per second, with the error-rate SLO."""
    fig, (ax,) = _figure()
    _shade_phases(ax, result)
    t, rps, fail = _series(result, "t"), _series(result, "rps"), _series(result, "fail_rps")
    if t is not None and rps is not None and fail is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(rps > 0, 100.0 * fail / np.where(rps > 0, rps, 1.0), np.nan)
        ax.plot(t, rate, color=colors.config_color(result.config), lw=1.2, label="error rate")
    else:
        _no_data(ax, "error series")
    for slo in slos or []:
        if getattr(slo, "metric", "") == "error_rate":
            ax.axhline(100 * slo.threshold, color=colors.SLO_COLOR, ls="-.", lw=1, label=f"SLO {slo.describe()}")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{_label(result)}: error rate per second")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("failed requests (%)")
    _legend(ax, loc="upper left", fontsize=7)
    return fig


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(values.astype(np.float64))
    return x, np.arange(1, len(x) + 1) / len(x)


def latency_cdf(result: RunResult, window: tuple[float, float] | None = None) -> Figure:
    """Cumulative distribution of response times per endpoint group (log time axis)."""
    fig, (ax,) = _figure()
    s = result.samples
    drawn = False
    for group in ("all", *s.groups):
        lat = s.latency_ms[s.mask(window=window, group=group)]
        lat = lat[lat > 0]
        if len(lat):
            x, y = _ecdf(lat)
            style = "-" if group == "all" else "--"
            ax.plot(x, 100 * y, style, color=colors.group_color(group), lw=1.3, label=f"{group} ({len(lat)} requests)")
            drawn = True
    if drawn:
        ax.set_xscale("log")
    else:
        _no_data(ax, "requests")
    where = "whole run" if window is None else f"{window[0]:.0f}-{window[1]:.0f} s"
    ax.set_title(f"{_label(result)}: response time distribution ({where})")
    ax.set_xlabel("response time (ms, log scale)")
    ax.set_ylabel("requests at or below (%)")
    _legend(ax, loc="lower right", fontsize=7)
    return fig


def telemetry(result: RunResult) -> Figure:
    """Target-side CPU and CPU throttling per app instance, database and load balancer over the run."""
    fig, (top, bottom) = _figure(TALL, rows=2)
    styles = {"app": "-", "db": "--", "lb": ":"}
    for ax in (top, bottom):
        _shade_phases(ax, result)
    drawn_cpu = drawn_thr = False
    apps = [tel for tel in result.telemetry if tel.tier == "app"]
    base = colors.config_color(result.config)
    for tel in result.telemetry:
        if tel.tier == "app":
            shade = colors.shade(base, apps.index(tel) / max(1, len(apps)))
        else:
            shade = colors.TIER_COLORS.get(tel.tier, "#777777")
        label = f"{tel.component} ({tel.tier})"
        ls = styles.get(tel.tier, "-.")
        if len(tel.t) and np.isfinite(tel.cpu_pct).any():
            top.plot(tel.t, tel.cpu_pct, ls, color=shade, lw=1.2, label=label)
            drawn_cpu = True
        if len(tel.t) and np.isfinite(tel.throttled_pct).any():
            bottom.plot(tel.t, tel.throttled_pct, ls, color=shade, lw=1.2, label=label)
            drawn_thr = True
    if not drawn_cpu:
        _no_data(top, "target CPU")
    if not drawn_thr:
        _no_data(bottom, "CPU throttling")
    title = f"{_label(result)}: target-side CPU ({len(apps)} app instance{'s' if len(apps) != 1 else ''})"
    top.set_title(title)
    top.set_ylabel("CPU used (% of allotted vCPUs)")
    bottom.set_ylabel("time throttled (%)")
    bottom.set_xlabel("time since start (s)")
    for ax, drawn in ((top, drawn_cpu), (bottom, drawn_thr)):
        if drawn:
            ax.set_ylim(0, max(ax.get_ylim()[1], MIN_PCT_AXIS))
            _legend(ax, loc="upper left", fontsize=7, ncols=3)
    return fig


# ----------------------------------------------------------------------------------- saturation
def saturation(verdict: SaturationVerdict, result: RunResult | None = None) -> Figure:
    """Throughput and p95 against load, per step, with the saturation point (or range) marked."""
    fig, (ax,) = _figure()
    config = verdict.config
    color = colors.config_color(config)
    steps = verdict.steps
    users = np.array([s.deploy_users for s in steps], dtype=np.float64)
    if len(steps):
        ax.plot(users, [s.achieved_rps for s in steps], "o-", color=color, label="achieved throughput")
        ax.plot(users, [s.offered_rps for s in steps], "s:", color="#777777", ms=4, label="offered throughput")
        bad = [i for i, s in enumerate(steps) if not s.holds]
        if bad:
            ax.plot(
                users[bad],
                [steps[i].achieved_rps for i in bad],
                "x",
                color=colors.SLO_COLOR,
                ms=9,
                label="step broke SLO or tracking",
            )
        if verdict.usl is not None and len(users):
            grid = np.linspace(max(1.0, users.min() * 0.5), users.max() * 1.1, 200)
            u = verdict.usl
            fit = u.lam * grid / (1 + u.sigma * (grid - 1) + u.kappa * grid * (grid - 1))
            ax.plot(grid, fit, "-", color=color, alpha=0.35, lw=3, label=f"USL fit (R² {u.r_squared:.2f})")
    else:
        _no_data(ax, "load steps")
    ax.set_xlabel("load (deployment-scale users)")
    ax.set_ylabel("throughput (req/s)")
    right = ax.twinx()
    if len(steps):
        right.plot(users, [s.p95_ms for s in steps], "d--", color="#444444", label="p95 (all requests)")
    right.set_ylabel("p95 response time (ms)")
    if verdict.result == SAT_RANGE and verdict.users_range:
        lo, hi = verdict.users_range
        ax.axvspan(lo, hi, color=color, alpha=0.15, label=f"saturation range {lo:.0f}-{hi:.0f} users")
    elif verdict.users is not None:
        ax.axvline(verdict.users, color=color, ls="--", lw=1.5, label=f"saturation: {verdict.users} users ({verdict.result})")
    if verdict.minimum_users is not None:
        ax.axvline(
            verdict.minimum_users, color=colors.SLO_COLOR, ls="-.", lw=1, label=f"required minimum {verdict.minimum_users}"
        )
    ax.set_title(f"{config}: throughput and p95 against load, saturation {verdict.result}")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = right.get_legend_handles_labels()
    if handles + h2:
        ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=7)
    return fig


# ----------------------------------------------------------------------------------- comparison
def _mean_ci(values: tuple[float, ...]) -> tuple[float, float, float]:
    """Mean of replicate values and its Student-t interval (NaN bounds with fewer than two values)."""
    from scipy import stats as sps

    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean()) if len(arr) else math.nan
    if len(arr) < 2:
        return mean, math.nan, math.nan
    half = float(sps.t.ppf(0.5 + CI_LEVEL / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return mean, mean - half, mean + half


def comparison(verdict: ComparisonVerdict) -> Figure:
    """The two configurations' replicate values with their means and confidence intervals, and the ratio."""
    fig = Figure(figsize=SIZE, layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    rng = np.random.default_rng(0)  # jitter only, so points do not hide one another
    unit = "req/s" if verdict.metric.endswith("throughput") else "%" if verdict.metric.endswith("error_rate") else "ms"
    factor = 100.0 if unit == "%" else 1.0
    for x, (config, values) in enumerate(((verdict.a, verdict.values_a), (verdict.b, verdict.values_b))):
        color = colors.config_color(config)
        vals = np.asarray(values, dtype=np.float64) * factor
        left.plot(
            x + rng.uniform(-0.08, 0.08, len(vals)), vals, "o", color=color, alpha=0.6, label=f"{config}: {len(vals)} replicates"
        )
        mean, lo, hi = (v * factor for v in _mean_ci(values))
        if math.isfinite(mean):
            yerr = [[mean - lo], [hi - mean]] if math.isfinite(lo) else None
            left.errorbar(x + 0.25, mean, yerr=yerr, fmt="s", color=color, capsize=5, label=f"{config}: mean, {CI_LEVEL:.0%} CI")
    left.set_xticks([0, 1], [verdict.a, verdict.b])
    left.set_xlim(-0.5, 1.6)
    left.set_xlabel("configuration")
    left.set_ylabel(f"{verdict.metric} per replicate ({unit})")
    _legend(left, fontsize=7, loc="best")
    if verdict.ratio is not None and math.isfinite(verdict.ratio):
        yerr = None
        if verdict.ratio_ci is not None and all(math.isfinite(v) for v in verdict.ratio_ci):
            yerr = [[verdict.ratio - verdict.ratio_ci[0]], [verdict.ratio_ci[1] - verdict.ratio]]
        right.errorbar(
            [0],
            [verdict.ratio],
            yerr=yerr,
            fmt="D",
            color=colors.config_color(verdict.a),
            capsize=6,
            label=f"ratio, {verdict.confidence:.3g} CI",
        )
        e = verdict.min_effect
        right.axhspan(1 / (1 + e), 1 + e, color="#dddddd", label=f"claimed effect {e:.0%}")
    else:
        _no_data(right, "ratio")
    right.axhline(1.0, color="#333333", lw=1, label="no difference")
    right.set_xticks([0], [f"{verdict.a} / {verdict.b}"])
    right.set_xlabel("pair")
    right.set_ylabel("ratio (a / b)")
    _legend(right, fontsize=7, loc="best")
    p = "n/a" if verdict.p_holm is None else f"{verdict.p_holm:.3g}"
    fig.suptitle(f"{verdict.subject}: {verdict.result} (adjusted p = {p})", fontsize=10)
    return fig


# ------------------------------------------------------------------------------ across configurations
def configurations_side_by_side(rows: list[dict]) -> Figure:
    """p95 and saturation point of every configuration, side by side (one colour each).

    ``rows``: one dict per configuration with ``config``, ``p95_ms`` and ``saturation_users`` (None when unknown).
    """
    fig = Figure(figsize=SIZE, layout="constrained")
    left, right = fig.subplots(1, 2)
    names = [r["config"] for r in rows]
    palette = [colors.config_color(n) for n in names]
    x = np.arange(len(rows))
    p95 = [r.get("p95_ms") if r.get("p95_ms") is not None else np.nan for r in rows]
    sat = [r.get("saturation_users") if r.get("saturation_users") is not None else np.nan for r in rows]
    for xi, name, col, a, b in zip(x, names, palette, p95, sat, strict=True):
        left.bar(xi, a, color=col, label=name)
        right.bar(xi, b, color=col, label=name)
    left.set_xticks(x, names, rotation=20)
    right.set_xticks(x, names, rotation=20)
    left.set_title("plateau p95 (all requests)", fontsize=9)
    right.set_title("saturation point", fontsize=9)
    left.set_xlabel("configuration")
    right.set_xlabel("configuration")
    left.set_ylabel("p95 response time (ms)")
    right.set_ylabel("deployment-scale users")
    _legend(left, fontsize=7)
    _legend(right, fontsize=7)
    fig.suptitle("Configurations side by side", fontsize=10)
    return fig


def latency_cdf_by_config(results: list[RunResult]) -> Figure:
    """Response-time distributions of every configuration on its plateau (first replicate of each)."""
    fig, (ax,) = _figure()
    for result in results:
        windows = [p.window for p in result.phases_of("plateau")]
        m = np.zeros(len(result.samples), dtype=bool)
        for w in windows or [(-math.inf, math.inf)]:
            m |= result.samples.mask(window=w)
        lat = result.samples.latency_ms[m]
        lat = lat[lat > 0]
        if len(lat):
            x, y = _ecdf(lat)
            p95 = stats.percentile(lat, 95)
            ax.plot(x, 100 * y, color=colors.config_color(result.config), lw=1.4, label=f"{result.config} (p95 {p95:.0f} ms)")
    if ax.lines:
        ax.set_xscale("log")
    else:
        _no_data(ax, "requests")
    ax.set_title("Response time distribution on the plateau, per configuration")
    ax.set_xlabel("response time (ms, log scale)")
    ax.set_ylabel("requests at or below (%)")
    _legend(ax, loc="lower right", fontsize=7)
    return fig
