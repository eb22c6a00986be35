"""Analysis: pure functions that turn run results into verdicts (SLOs, saturation, comparisons)."""
