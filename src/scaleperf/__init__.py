"""scaleperf: load tests that show, with numbers you can defend, how a web backend scales."""

__version__ = "0.1.0"
