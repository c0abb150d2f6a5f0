"""Minimum-cost assignment for tag grouping, with the reference's choice among tied optima.

PROTOCOLS.md §4 step 3: the reference solves each joint type's candidate-to-group matching with the `munkres`
package. The model-zoo numbers (2020-07 .. 2021-04) were produced with munkres 1.1.x (1.1.2 and 1.1.4 run the same
algorithm): the classic Kuhn-Munkres steps with row reduction only, greedy starring and a wrap-around zero search.
When the optimum is unique every exact solver returns it, so we use SciPy's `linear_sum_assignment` (C, fast).
When several assignments reach the optimum (or come within `TIE_TOLERANCE` of it), which one munkres returns
depends on its step order, and SciPy's (or munkres 3.x's, which is a different algorithm) may differ: then we run
`munkres_classic`, our implementation of that step order, whose answers are checked against munkres 1.1.4 in
tests/harness/bottomup/test_bottomup_assignment.py.

Costs are float64 [rows, cols] with rows <= cols in the grouping (extra columns are 1e10 padding).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from harness.errors import HarnessError

#: Alternative optima whose real-column cost is within this of the best are treated as ties. Generous on purpose:
#: a near-tie only costs a slower exact solve, while munkres's own float arithmetic (entries up to 1e10) can blur
#: differences of ~1e-5.
TIE_TOLERANCE = 1e-3

Pairs = list[tuple[int, int]]


def assign(cost: np.ndarray, *, num_real_cols: int | None = None, tie_tolerance: float = TIE_TOLERANCE) -> Pairs:
    """Pairs (row, col), sorted by row, of a minimum-cost assignment of every row; munkres 1.1.x's pick on ties.

    cost: [R, C] float64 with R <= C. Columns >= num_real_cols are padding (all equal per row, e.g. 1e10): which
    padding column a row gets is irrelevant, so only the real pairs decide whether two optima differ.
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] > c.shape[1]:
        raise HarnessError(f"assignment cost must be [R, C] with R <= C, got shape {c.shape}")
    if c.shape[0] == 0:
        return []
    n_real = c.shape[1] if num_real_cols is None else int(num_real_cols)
    rows, cols = linear_sum_assignment(c)
    pairs = [(int(r), int(k)) for r, k in zip(rows, cols, strict=True)]
    if _has_tied_optimum(c, pairs, n_real, tie_tolerance):
        return munkres_classic(c)
    return pairs


def _split_cost(c: np.ndarray, pairs: Pairs, n_real: int) -> tuple[int, float]:
    """(number of padding pairs, cost of the real pairs)."""
    real = [c[r, k] for r, k in pairs if k < n_real]
    return len(pairs) - len(real), float(np.sum(real)) if real else 0.0


def _has_tied_optimum(c: np.ndarray, pairs: Pairs, n_real: int, tol: float) -> bool:
    """Whether another assignment with different real pairs is (nearly) as cheap as `pairs`.

    Fast path: every row on a real column that undercuts the rest of its row by more than tol -> unique.
    Otherwise forbid each real pair in turn and re-solve (the second-best assignment differs from the best in at
    least one of its pairs; an optimum with strictly more real pairs would have fewer 1e10 paddings, so no tie).
    """
    n_pad, best = _split_cost(c, pairs, n_real)
    if n_pad == 0:
        chosen = np.array([c[r, k] for r, k in pairs])
        others = c.copy()
        others[[r for r, _ in pairs], [k for _, k in pairs]] = np.inf
        if np.all(others.min(axis=1) - chosen > tol):
            return False
    for r, k in pairs:
        if k >= n_real:
            continue
        banned = c.copy()
        banned[r, k] = np.inf
        try:
            r2, c2 = linear_sum_assignment(banned)
        except ValueError:  # no assignment avoids this pair (a 1 x 1 problem)
            continue
        alt_pad, alt = _split_cost(c, list(zip(r2.tolist(), c2.tolist(), strict=True)), n_real)
        if alt_pad == n_pad and alt - best <= tol:
            return True
    return False


def munkres_classic(cost: np.ndarray, *, max_steps: int | None = None) -> Pairs:
    """Classic Munkres assignment with the step order of munkres 1.1.x (the reference's tie-breaking).

    cost: [R, C] float64 (any shape). Returns (row, col) pairs sorted by row, min(R, C) of them.
    Steps (float64, in this order, so that exact zeros arise exactly as there): pad to square with 0; subtract
    each row's minimum (no column reduction); star the first free zero of each row, rows in order; cover starred
    columns; repeatedly prime an uncovered zero found by a wrap-around scan that starts at the last primed
    position and, within the first row that has one, takes the LAST such zero in scan order; augment along the
    star/prime path; when no uncovered zero is left, add the smallest uncovered value to covered rows and then
    subtract it from uncovered columns.
    """
    src = np.asarray(cost, dtype=np.float64)
    n_rows, n_cols = src.shape
    n = max(n_rows, n_cols)
    if n_rows == 0 or n_cols == 0:
        return []
    c = np.zeros((n, n), dtype=np.float64)
    c[:n_rows, :n_cols] = src
    c -= c.min(axis=1, keepdims=True)
    state = _State(c)
    state.star_greedily()
    budget = max_steps if max_steps is not None else 50 * n**3 + 1000
    while not state.cover_starred_columns():
        state.augment(budget)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(state.marked[:n_rows, :n_cols] == 1), strict=True)]


class _State:
    STAR, PRIME = 1, 2

    def __init__(self, c: np.ndarray) -> None:
        self.c = c
        self.n = c.shape[0]
        self.marked = np.zeros(c.shape, dtype=np.int8)
        self.row_cov = np.zeros(self.n, dtype=bool)
        self.col_cov = np.zeros(self.n, dtype=bool)

    def star_greedily(self) -> None:
        for i in range(self.n):
            for j in range(self.n):
                if self.c[i, j] == 0 and not self.col_cov[j] and not self.row_cov[i]:
                    self.marked[i, j] = self.STAR
                    self.col_cov[j] = self.row_cov[i] = True
                    break
        self.row_cov[:] = False
        self.col_cov[:] = False

    def cover_starred_columns(self) -> bool:
        """Cover the columns holding a star; True when every column is covered (the assignment is complete)."""
        self.col_cov |= (self.marked == self.STAR).any(axis=0)
        return bool(self.col_cov.sum() >= self.n)

    def _find_zero(self, i0: int, j0: int) -> tuple[int, int]:
        free = (self.c == 0) & ~self.row_cov[:, None] & ~self.col_cov[None, :]
        order_r = (i0 + np.arange(self.n)) % self.n
        order_c = (j0 + np.arange(self.n)) % self.n
        hits = free[order_r][:, order_c]
        rows_hit = np.flatnonzero(hits.any(axis=1))
        if rows_hit.size == 0:
            return -1, -1
        first = rows_hit[0]
        return int(order_r[first]), int(order_c[np.flatnonzero(hits[first])[-1]])

    def augment(self, budget: int) -> None:
        """Prime zeros (adjusting the matrix when none is free) until an augmenting path is found; apply it."""
        row = col = 0
        for _ in range(budget):
            row, col = self._find_zero(row, col)
            if row < 0:
                self._shift_by_smallest()
                row = col = 0
                continue
            self.marked[row, col] = self.PRIME
            stars = np.flatnonzero(self.marked[row] == self.STAR)
            if stars.size == 0:
                self._flip_path(row, col)
                return
            col = int(stars[0])
            self.row_cov[row] = True
            self.col_cov[col] = False
        raise HarnessError(f"munkres_classic did not converge within {budget} steps on a {self.n}x{self.n} matrix")

    def _shift_by_smallest(self) -> None:
        uncovered = self.c[~self.row_cov][:, ~self.col_cov]
        m = uncovered.min()
        self.c[self.row_cov] += m
        self.c[:, ~self.col_cov] -= m

    def _flip_path(self, row: int, col: int) -> None:
        path = [(row, col)]
        while True:
            stars = np.flatnonzero(self.marked[:, path[-1][1]] == self.STAR)
            if stars.size == 0:
                break
            r = int(stars[0])
            path.append((r, path[-1][1]))
            path.append((r, int(np.flatnonzero(self.marked[r] == self.PRIME)[0])))
        for r, k in path:
            self.marked[r, k] = 0 if self.marked[r, k] == self.STAR else self.STAR
        self.row_cov[:] = False
        self.col_cov[:] = False
        self.marked[self.marked == self.PRIME] = 0
