"""Every verdict of a run, judged once from its stored replicates: SLOs, saturation points, comparisons.

:func:`judge` is what the perf tests, the session summary, ``report.html``, ``results.md`` and
``scaleperf report`` all rest on (through :mod:`scaleperf.report.store`, which keeps its answer in the run's
``verdicts.json``); nothing else judges.  Per configuration: one verdict per SLO over all its replicates
(:func:`slo.judge`), one saturation verdict (the median replicate's point, each replicate's listed); then
each declared comparison in the family of all of them (:func:`compare.compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scaleperf.analysis import compare, saturation, setup, slo
from scaleperf.analysis.expectations import Expectation
from scaleperf.analysis.slo_support import Support
from scaleperf.analysis.verdict import INCONCLUSIVE, SAT_INCONCLUSIVE, SaturationVerdict, Verdict
from scaleperf.results import RunResult

STEP = "step"


@dataclass(frozen=True)
class Inputs:
    """What the verdicts are judged against, besides the runs."""

    provider: str
    slos: tuple[slo.Slo, ...]
    minimums: dict  # configuration -> minimum saturation point (deployment users), or absent
    expectations: tuple[Expectation, ...]
    accept_unlimited: bool = False  # judge saturation and comparisons even where CPU limits were "none"

    def describe(self) -> dict:
        return {
            "provider": self.provider,
            "slos": [s.id for s in self.slos],
            "minimums": dict(self.minimums),
            "expectations": [e.claim for e in self.expectations],
            "min_effects": {e.id: e.min_effect for e in self.expectations},
            "accept_unlimited": self.accept_unlimited,
        }


def saturation_verdict(config: str, runs: list[RunResult], inputs: Inputs) -> SaturationVerdict | None:
    """One saturation verdict for ``config``: None when no replicate has load steps."""
    stepped = [r for r in sorted(runs, key=_replicate) if r.phases_of(STEP)]
    if not stepped:
        return None
    minimum = inputs.minimums.get(config)
    each = [saturation.find(r, list(inputs.slos), minimum_users=minimum) for r in stepped]
    why = setup.untrusted(stepped, accept_unlimited=inputs.accept_unlimited)
    if why:
        subject = f"{config}: saturation point"
        return replace(
            each[0], outcome=INCONCLUSIVE, result=SAT_INCONCLUSIVE, reason=f"{subject}: inconclusive, {why}",
            figures={**each[0].figures, "result": SAT_INCONCLUSIVE, "refused": why},
        )  # fmt: skip
    note = setup.accepted_note(stepped, accept_unlimited=inputs.accept_unlimited)
    if note:
        each = [replace(v, reason=v.reason + note) for v in each]
    if len(each) == 1:
        return each[0]
    decided = [v for v in each if v.outcome != INCONCLUSIVE and v.users is not None]
    pick = sorted(decided, key=lambda v: v.users)[(len(decided) - 1) // 2] if decided else each[0]
    listing = ", ".join(f"r{_replicate(r)} {_point(v)} ({v.outcome})" for r, v in zip(stepped, each, strict=True))
    which = f"r{_replicate(stepped[each.index(pick)])}"
    reason = f"{pick.reason}; the median replicate ({which}) of {len(each)}: {listing}"
    figures = {
        **pick.figures,
        "replicates": [{"replicate": f"r{_replicate(r)}", **_short(v)} for r, v in zip(stepped, each, strict=True)],
    }
    return replace(pick, reason=reason, figures=figures)


def _replicate(r: RunResult) -> int:
    return int(r.meta.get("replicate", 0) or 0)


def _point(v: SaturationVerdict) -> str:
    if v.users is None:
        return v.result
    return f"{'> ' if v.result == 'not reached' else ''}{v.users} users"


def _short(v: SaturationVerdict) -> dict:
    return {"result": v.result, "users": v.users, "rps": v.rps, "outcome": v.outcome}


def judge(runs_by_config: dict[str, list[RunResult]], inputs: Inputs) -> list[Verdict]:
    """Every verdict of the run, in a fixed order: per configuration its SLOs and saturation point, then
    the comparisons (each in the family of every declared one)."""
    out: list[Verdict] = []
    support = Support(list(inputs.slos))
    for config, runs in runs_by_config.items():
        out += slo.judge(config, runs, list(inputs.slos), support)
        sat = saturation_verdict(config, runs, inputs)
        if sat is not None:
            out.append(sat)
    if inputs.expectations:
        out += compare.compare(
            runs_by_config,
            list(inputs.expectations),
            family_size=len(inputs.expectations),
            slos=list(inputs.slos),
            accept_unlimited=inputs.accept_unlimited,
        )
    return out
