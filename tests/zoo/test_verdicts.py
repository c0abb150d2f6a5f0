import math

import pytest

from zoo.results.verdicts import metric_verdict, row_verdict


@pytest.mark.parametrize(
    ("reproduced", "expected"),
    [
        (0.323, "reproduced"),
        (0.325, "reproduced"),  # exactly at the tolerance
        (0.321, "reproduced"),
        (0.3251, "drift"),
        (0.327, "drift"),  # exactly twice the tolerance
        (0.3271, "failed"),
        (0.300, "failed"),
    ],
)
def test_metric_verdict_bands(reproduced, expected):
    assert metric_verdict("AP", 0.323, reproduced, 0.002).verdict == expected


def test_direction_respects_lower_is_better_for_nme():
    assert metric_verdict("AP", 0.5, 0.6, 0.002).direction == "better"
    assert metric_verdict("AP", 0.5, 0.4, 0.002).direction == "worse"
    assert metric_verdict("NME", 0.12, 0.10, 0.002).direction == "better"
    assert metric_verdict("NME", 0.12, 0.13, 0.002).direction == "worse"
    assert metric_verdict("NME", 0.12, 0.12, 0.002).direction == "equal"


def test_row_verdict_is_worst_metric_and_missing_metric_fails():
    doc = {"AP": 0.5, "AR": 0.6}
    tol = {"AP": 0.002, "AR": 0.002}
    assert row_verdict("x/y", doc, {"AP": 0.5, "AR": 0.6}, tol, partial=False).verdict == "reproduced"
    assert row_verdict("x/y", doc, {"AP": 0.5, "AR": 0.603}, tol, partial=False).verdict == "drift"
    missing = row_verdict("x/y", doc, {"AP": 0.5}, tol, partial=False)
    assert missing.verdict == "failed"
    assert math.isnan(missing.metrics[1].reproduced)


def test_partial_runs_are_labelled():
    rv = row_verdict("x/y", {"AP": 0.5}, {"AP": 0.5}, {"AP": 0.002}, partial=True)
    assert rv.verdict == "reproduced"
    assert rv.label == "partial (reproduced)"
