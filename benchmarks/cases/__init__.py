"""Benchmark cases; importing this package registers them in benchmarks.suite.CASES."""

from benchmarks.cases import (  # noqa: F401
    bottomup_inference,
    bottomup_workers,
    data_lock,
    score_cli,
    topdown_decode,
    topdown_inference,
    topdown_scoring,
)
