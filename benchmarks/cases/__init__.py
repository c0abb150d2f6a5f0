"""Benchmark cases; importing this package registers them in benchmarks.suite.CASES."""

from benchmarks.cases import bottomup_inference, score_cli, topdown_inference, topdown_scoring  # noqa: F401
