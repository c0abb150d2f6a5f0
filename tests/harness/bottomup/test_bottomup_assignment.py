"""Tag-grouping assignment: SciPy where the optimum is unique, munkres 1.1.x's pick among tied optima.

PROTOCOLS.md §4 step 3 names the `munkres` package as the reference solver. The model-zoo numbers were produced
with munkres 1.1.x; munkres 3.x (what a fresh install gets) is a different algorithm and, like SciPy, picks
differently among tied optima. GOLDEN holds answers of munkres 1.1.4 on tied grouping-style matrices (costs
round(dist) * 100 - val, 1e10 padding columns), chosen so that plain SciPy disagrees on most of them.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from harness.bottomup.assignment import assign, munkres_classic
from zoo import settings

# (cost, number of real columns, munkres 1.1.4's pairs). Generated with munkres==1.1.4 (Munkres().compute).
GOLDEN = [
    (
        [
            [199.5, 199.5, 99.5, 199.5, 1e10],
            [199.5, -0.5, -0.5, -0.5, 1e10],
            [-0.25, 199.75, 199.75, -0.25, 1e10],
            [99.5, 199.5, -0.5, 199.5, 1e10],
            [-0.25, 99.75, 199.75, -0.25, 1e10],
        ],
        4,
        [(0, 4), (1, 1), (2, 0), (3, 2), (4, 3)],
    ),
    ([[99.5, 99.5, 99.5], [99.75, 199.75, 199.75], [199.5, 199.5, 99.5]], 3, [(0, 1), (1, 0), (2, 2)]),
    ([[-0.5, 199.5, 99.5, -0.5, -0.5], [99.75, -0.25, -0.25, 99.75, 199.75]], 5, [(0, 0), (1, 1)]),
    (
        [
            [99.75, 99.75, 99.75, -0.25, 99.75],
            [99.75, -0.25, 199.75, -0.25, -0.25],
            [-0.5, 199.5, 199.5, 199.5, -0.5],
            [199.75, 99.75, 99.75, -0.25, 99.75],
            [199.75, 99.75, -0.25, 99.75, -0.25],
        ],
        5,
        [(0, 3), (1, 1), (2, 0), (3, 2), (4, 4)],
    ),
    (
        [
            [99.5, -0.5, 199.5, 99.5, 199.5],
            [99.5, -0.5, 99.5, 99.5, 99.5],
            [99.75, -0.25, -0.25, 199.75, 199.75],
            [99.75, -0.25, 99.75, 99.75, 99.75],
            [-0.25, -0.25, 199.75, -0.25, 199.75],
        ],
        5,
        [(0, 1), (1, 4), (2, 2), (3, 0), (4, 3)],
    ),
    (
        [
            [199.75, -0.25, 199.75, 199.75, 1e10],
            [199.5, 199.5, 199.5, 199.5, 1e10],
            [199.75, 99.75, 199.75, 199.75, 1e10],
            [-0.5, -0.5, -0.5, -0.5, 1e10],
            [99.75, -0.25, -0.25, -0.25, 1e10],
        ],
        4,
        [(0, 1), (1, 0), (2, 4), (3, 2), (4, 3)],
    ),
    (
        [[-0.5, -0.5, 1e10, 1e10], [99.5, -0.5, 1e10, 1e10], [-0.5, -0.5, 1e10, 1e10], [199.75, -0.25, 1e10, 1e10]],
        2,
        [(0, 3), (1, 1), (2, 0), (3, 2)],
    ),
    (
        [
            [99.5, -0.5, 99.5, 1e10, 1e10],
            [199.75, 199.75, 99.75, 1e10, 1e10],
            [199.5, -0.5, -0.5, 1e10, 1e10],
            [-0.25, -0.25, 199.75, 1e10, 1e10],
            [199.5, -0.5, 99.5, 1e10, 1e10],
        ],
        3,
        [(0, 4), (1, 3), (2, 2), (3, 0), (4, 1)],
    ),
    (
        [
            [199.75, 199.75, 1e10, 1e10, 1e10],
            [-0.25, 199.75, 1e10, 1e10, 1e10],
            [99.75, -0.25, 1e10, 1e10, 1e10],
            [-0.25, -0.25, 1e10, 1e10, 1e10],
            [99.5, -0.5, 1e10, 1e10, 1e10],
        ],
        2,
        [(0, 2), (1, 4), (2, 3), (3, 0), (4, 1)],
    ),
    (
        [
            [99.75, 199.75, 199.75, 199.75, -0.25],
            [199.5, 99.5, 199.5, 199.5, -0.5],
            [99.5, 99.5, 99.5, 199.5, 99.5],
            [199.5, 199.5, -0.5, 99.5, 99.5],
            [99.75, -0.25, -0.25, 99.75, -0.25],
        ],
        5,
        [(0, 4), (1, 3), (2, 0), (3, 2), (4, 1)],
    ),
    (
        [
            [-0.5, 99.5, 1e10, 1e10, 1e10],
            [-0.5, 99.5, 1e10, 1e10, 1e10],
            [199.75, 99.75, 1e10, 1e10, 1e10],
            [-0.5, -0.5, 1e10, 1e10, 1e10],
            [-0.5, 199.5, 1e10, 1e10, 1e10],
        ],
        2,
        [(0, 2), (1, 4), (2, 3), (3, 1), (4, 0)],
    ),
    (
        [
            [-0.5, 99.5, 99.5, -0.5, 1e10],
            [99.75, -0.25, 99.75, -0.25, 1e10],
            [-0.5, -0.5, 199.5, 99.5, 1e10],
            [99.5, 199.5, -0.5, -0.5, 1e10],
            [99.5, 199.5, 199.5, 199.5, 1e10],
        ],
        4,
        [(0, 3), (1, 1), (2, 0), (3, 2), (4, 4)],
    ),
    (
        [[199.5, 199.5, 99.5, 199.5], [-0.25, 99.75, 99.75, 99.75], [99.75, 199.75, 199.75, 199.75]],
        4,
        [(0, 2), (1, 0), (2, 3)],
    ),
    (
        [
            [-0.5, 199.5, -0.5, 99.5, 1e10],
            [99.5, 199.5, -0.5, 199.5, 1e10],
            [-0.25, 99.75, -0.25, -0.25, 1e10],
            [-0.5, 199.5, 99.5, 199.5, 1e10],
            [-0.5, -0.5, 199.5, 199.5, 1e10],
        ],
        4,
        [(0, 4), (1, 2), (2, 3), (3, 0), (4, 1)],
    ),
    (
        [
            [99.75, 99.75, -0.25, 1e10, 1e10],
            [99.5, -0.5, 99.5, 1e10, 1e10],
            [-0.5, 199.5, -0.5, 1e10, 1e10],
            [99.5, -0.5, -0.5, 1e10, 1e10],
            [-0.5, 199.5, -0.5, 1e10, 1e10],
        ],
        3,
        [(0, 3), (1, 1), (2, 4), (3, 2), (4, 0)],
    ),
    (
        [
            [199.5, 199.5, 99.5, -0.5],
            [199.75, 99.75, 199.75, 199.75],
            [-0.5, 99.5, 99.5, -0.5],
            [199.75, 99.75, 199.75, 99.75],
        ],
        4,
        [(0, 2), (1, 1), (2, 0), (3, 3)],
    ),
]


def _real(pairs, n_real):
    """Pairs with every padding column written -1: which padding column a row gets does not matter."""
    return [(int(r), int(c) if c < n_real else -1) for r, c in pairs]


@pytest.mark.parametrize(("cost", "n_real", "expected"), GOLDEN)
def test_classic_matches_munkres_1_1_4_exactly(cost, n_real, expected):
    assert munkres_classic(np.array(cost)) == [tuple(p) for p in expected]


@pytest.mark.parametrize(("cost", "n_real", "expected"), GOLDEN)
def test_assign_matches_munkres_1_1_4_on_ties(cost, n_real, expected):
    assert _real(assign(np.array(cost), num_real_cols=n_real), n_real) == _real(expected, n_real)


def test_scipy_alone_differs_on_ties():
    """Why the fallback exists: SciPy's optimum is as cheap but not the same pairs on most GOLDEN matrices."""
    differ = 0
    for cost, n_real, expected in GOLDEN:
        c = np.array(cost)
        rows, cols = linear_sum_assignment(c)
        ours = list(zip(rows.tolist(), cols.tolist(), strict=True))
        assert c[rows, cols].sum() == pytest.approx(sum(c[r][k] for r, k in expected))
        differ += _real(ours, n_real) != _real(expected, n_real)
    assert differ >= len(GOLDEN) // 2


def _tie_heavy(rng: np.random.Generator, max_side: int) -> tuple[np.ndarray, int]:
    r, g = int(rng.integers(1, max_side + 1)), int(rng.integers(1, max_side + 1))
    cost = rng.integers(0, 3, size=(r, g)) * 100 - rng.choice([0.5, 0.25, 0.75], size=(r, 1))
    if r > g:
        cost = np.concatenate([cost, np.full((r, r - g), 1e10)], axis=1)
    return cost.astype(np.float64), g


def test_assign_equals_classic_on_random_ties():
    rng = np.random.default_rng(0)
    for _ in range(300):
        cost, g = _tie_heavy(rng, 7)
        assert _real(assign(cost, num_real_cols=g), g) == _real(munkres_classic(cost), g)


def test_unique_optimum_uses_scipy_answer():
    """Continuous random costs have a unique optimum: every exact solver returns it."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        r = int(rng.integers(1, 12))
        cost = np.round(rng.random((r, r + int(rng.integers(0, 4)))) * 3) * 100 - rng.random((r, 1))
        cost = cost - rng.random(cost.shape) * 0.01
        rows, cols = linear_sum_assignment(cost)
        expected = list(zip(rows.tolist(), cols.tolist(), strict=True))
        assert assign(cost) == expected == munkres_classic(cost)


def test_pairs_sorted_by_row_and_cover_every_row():
    cost = np.array([[5.0, 1.0, 1e10], [1.0, 5.0, 1e10], [0.0, 0.0, 1e10]])
    pairs = assign(cost, num_real_cols=2)
    assert [r for r, _ in pairs] == [0, 1, 2]
    assert len({c for _, c in pairs}) == 3


def _munkres_1x():
    """munkres 1.x, from the environment or from $HRNET_ZOO_MUNKRES1 (a path to its munkres.py)."""
    path = settings.MUNKRES1.raw()
    if path:
        spec = importlib.util.spec_from_file_location("munkres_1x", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    mod = pytest.importorskip("munkres")
    if not str(getattr(mod, "__version__", "")).startswith("1."):
        pytest.skip(
            f"installed munkres is {getattr(mod, '__version__', '?')}, not the 1.x reference; set HRNET_ZOO_MUNKRES1 "
            "to a munkres 1.1.x munkres.py (e.g. `uv pip install --target /tmp/m munkres==1.1.4`) to run this"
        )
    return mod


def test_live_agreement_with_munkres_1x():
    ref = _munkres_1x()
    rng = np.random.default_rng(2)
    for _ in range(300):
        cost, g = _tie_heavy(rng, 9)
        expected = [tuple(map(int, p)) for p in ref.Munkres().compute(cost.copy())]
        assert munkres_classic(cost) == expected
        assert _real(assign(cost, num_real_cols=g), g) == _real(expected, g)
