"""When the load generator's own numbers can be trusted: the limits shared by the load engine's self-checks
(:mod:`scaleperf.load.selfcheck`, :mod:`scaleperf.load.workercpu`, over a whole run) and analysis
(:mod:`scaleperf.analysis.generator`, over each judged window).

It does not import Locust, so analysis can read the limits without loading the engine.
"""

CPU_SATURATED_P95_PCT = 90.0  # generator CPU p95 above this (Locust's own warning threshold): saturated
WORKER_CPU_SATURATED_PCT = 90.0  # a worker above this (Locust's own warning threshold) at any second: saturated
LAG_SATURATED_P99_MS = 100.0  # paced users waking this late (p99) means the schedule slipped: saturated
