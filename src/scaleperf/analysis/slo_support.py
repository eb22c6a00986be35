"""Load steps that held above the design load, as evidence that an SLO holds at the design load.

An SLO speaks of the design load: the phases it names (the plateau; or the ramp and the plateau). A
saturation search then runs steps above that load, and a step that held ran the same requests under more
load. Where a percentile or an error rate does not fall as load grows, such a step's requests can only make
the metric look worse than at the design load, never better. Pooled with the design load's own requests,
they may therefore show that the SLO holds (the whole interval on the passing side), and never that it
fails: a fail is decided on the design load's own phases alone.

Which steps: those at or above the design load, in order of load, up to the first that did not hold (an SLO
clearly broken, or the throughput fell behind the offered load) or on which the load generator could not be
trusted. The choice does not depend on the SLO being judged except through "held", which every step's
verdict shares; steps above the first that failed are left out even when they held, so a lucky step
above a broken one cannot lend its requests.

Only upper limits on latency percentiles, means and error rates are supported this way; a throughput floor
(more load, more throughput) and lower limits are judged on their own phases only.
"""

from __future__ import annotations

from scaleperf.analysis import steps as steps_mod
from scaleperf.analysis.slo import Slo
from scaleperf.results import RunResult

UPPER = ("<", "<=")


def applies(slo: Slo) -> bool:
    """Whether held steps may support ``slo``: an upper limit on a latency or an error rate."""
    return slo.op in UPPER and (slo.latency or slo.metric == "error_rate")


class Support:
    """The supporting step windows of each replicate, measured once per replicate for every SLO."""

    def __init__(self, slos: list[Slo]) -> None:
        self.slos = list(slos)
        self._steps: dict[int, tuple[list, list]] = {}

    def windows(self, result: RunResult, slo: Slo) -> list[tuple[str, tuple[float, float]]]:
        """(step label, judged window) of the steps that support ``slo`` in ``result``, by load."""
        if not applies(slo) or not result.complete:
            return []
        own = [p for p in result.phases if p.kind in slo.phases]
        if not own:
            return []
        design = max(p.deploy_users for p in own)
        key = id(result)
        if key not in self._steps:
            measured, gen, _ = steps_mod.measure_steps(result, self.slos)
            self._steps[key] = (measured, gen)
        measured, gen = self._steps[key]
        out = []
        for step, problems in zip(measured, gen, strict=True):
            if step.deploy_users < design:
                continue
            if problems or not step.holds:
                break
            out.append((step.label, step.window))
        return out
