"""What broke first, per endpoint across the load steps, and how bursty the arrivals were."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scaleperf.analysis import growth
from scaleperf.results import SAMPLE_DTYPES, Phase, RunResult, Samples

NAMES = ("/updates", "/queue", "/login")
GROUPS = ("polls", "reads", "auth")
STEPS = [Phase("step", f"step {i + 1}", 30 * i, 30 * (i + 1), 10 * (i + 1), 50 * (i + 1), warmup_s=5) for i in range(4)]


def stepped_run(latency, size, *, rps: float = 30.0, arrivals=None, seed: int = 0) -> RunResult:
    """Requests of three endpoints on four 30 s steps; ``latency(name, step)`` and ``size(name, step)`` per request."""
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in SAMPLE_DTYPES}
    for k, p in enumerate(STEPS):
        n = int(rps * (p.end_s - p.start_s))
        t = np.sort(arrivals(rng, p, n) if arrivals else rng.uniform(p.start_s, p.end_s, n))
        name = rng.integers(0, len(NAMES), n)
        cols["t"].append(t)
        cols["name"].append(name)
        cols["group"].append(name)  # endpoint i belongs to group i
        cols["latency_ms"].append(np.array([latency(NAMES[i], k) for i in name]) * rng.uniform(0.9, 1.1, n))
        cols["size"].append(np.array([size(NAMES[i], k) for i in name]))
        cols["error"].append(np.zeros(n))
    samples = Samples(**{k: np.concatenate(v).astype(SAMPLE_DTYPES[k]) for k, v in cols.items()}, names=NAMES, groups=GROUPS)
    meta = {"config": "single", "replicate": 1, "scale": 0.2, "profile": "standard", "complete": True}
    return RunResult(meta=meta, phases=tuple(STEPS), samples=samples, series={}, checks={})


def test_the_endpoint_that_broke_its_slo_first_is_named_with_its_growth():
    # the queue grows slow and large from step 2; updates only on step 4; login never breaks its 2 s
    def latency(name, k):
        return {"/updates": 50 + 200 * (k >= 3), "/queue": 100 + 400 * k, "/login": 800}[name]

    def size(name, k):
        return 2000 * (k + 1) if name == "/queue" else 300

    g = growth.endpoint_growth(stepped_run(latency, size), {"polls": 250, "reads": 500, "auth": 2000})
    assert g.steps == ("step 1", "step 2", "step 3", "step 4") and g.users == (50, 100, 150, 200)
    assert [e.name for e in g.endpoints][:2] == ["/queue", "/updates"]  # in the order they broke
    [first] = g.broke_first
    assert first.name == "/queue" and first.broke_at == 1 and first.threshold_ms == 500
    assert first.size_bytes == pytest.approx((2000, 4000, 6000, 8000))
    assert first.p95_ms[1] > 500 > first.p95_ms[0]
    login = next(e for e in g.endpoints if e.name == "/login")
    assert login.broke_at is None
    sentence = growth.growth_sentence(g)
    assert sentence.startswith("first to break, at step 2 (100 users): /queue (reads, p95 ")
    assert "2.0 KB to 3.9 KB" in sentence


def test_no_endpoint_breaks_when_every_p95_holds():
    g = growth.endpoint_growth(stepped_run(lambda n, k: 20, lambda n, k: 100), {"all": 250})
    assert g.broke_first == [] and growth.growth_sentence(g) == "no endpoint's p95 passed its group's SLO on any step"


def test_dispersion_is_one_for_random_arrivals_and_large_for_synchronised_polling():
    random = stepped_run(lambda n, k: 20, lambda n, k: 100, rps=40)
    spread = growth.step_dispersion(random)  # 25 one-second counts per step: each index is noisy, their mean less so
    assert np.mean([d.index for d in spread]) == pytest.approx(1.0, abs=0.35)
    assert max(d.cycle_ratio for d in spread) < 2

    def in_step_with_the_cycle(rng, p, n):  # every user polls in the first half second of each 5 s cycle
        cycles = rng.integers(int(p.start_s // 5), int(p.end_s // 5), n)
        return cycles * 5 + rng.uniform(0, 0.5, n)

    bursty = stepped_run(lambda n, k: 20, lambda n, k: 100, rps=40, arrivals=in_step_with_the_cycle)
    for d in growth.step_dispersion(bursty):
        assert d.index > 5 and (d.cycle_ratio > 10 or math.isinf(d.cycle_ratio))
