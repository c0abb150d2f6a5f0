"""Golden regression results (issue: reproduce sessions, part 5): every architecture and protocol on a few sample
images through the real engine, compared with the committed tests/golden/data/*.json (tolerances:
tests.helpers.golden.Tolerance; see tests/golden/README.md). Accept: HRNET_ZOO_ACCEPT_GOLDEN=1 or --accept-golden."""

from __future__ import annotations

import pytest

from tests.golden.cases import CASES, run_case
from tests.helpers import golden

#: What a GT stand-in must score: near-perfect (AIC's decode quantisation ceiling is ~0.83, see
#: tests/harness/topdown/test_geometry_selftest.py), so an accepted golden is also a meaningful one.
STANDIN_FLOOR = {"AP": 0.8, "AP50": 0.99, "PCK@0.3": 0.99, "PCK": 0.99}


def _param(case):
    # Random bottom-up models have their heatmap peaks limited (cases.PEAK_FRACTION), so grouping is quick and a
    # case is bound by its forward passes: single-scale ones take seconds like the top-down ones; multi-scale ones
    # also run the model at scale 2 (4x the pixels, ~25 CPU-s with the model build), hence slow.
    slow = case.model == "random" and case.row.endswith("/multi-scale")
    return pytest.param(case, id=case.name, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_golden(case, registry, samples_dir, tmp_path, accept_golden):
    doc = run_case(case, registry=registry, samples_dir=samples_dir, work=tmp_path)
    if case.model == "standin":
        low = {k: v for k, v in doc["metrics"].items() if k in STANDIN_FLOOR and (v or 0) < STANDIN_FLOOR[k]}
        assert not low, f"{case.name}: the GT stand-in scores {low}; a geometry/protocol error, not a golden change"
    golden.check(case.path, doc, accept=accept_golden, how=f"pytest tests/golden -k {case.name}")
