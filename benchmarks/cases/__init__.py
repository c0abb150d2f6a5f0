"""Benchmark cases; importing this package registers them in benchmarks.suite.CASES."""

from benchmarks.cases import topdown_scoring  # noqa: F401
