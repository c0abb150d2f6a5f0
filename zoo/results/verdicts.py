"""Verdicts: documented vs reproduced, per metric and per row (pure functions, no I/O).

A metric is *reproduced* when |reproduced - documented| <= tolerance, *drift* when within twice the tolerance,
*failed* otherwise. The sign says whether the reproduction is better or worse than documented (NME: lower is
better). A row's verdict is its worst metric's. Partial runs (a --limit or a sample set) get the same arithmetic
but are labelled partial and never count as a reproduction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zoo.evaluators import HIGHER_IS_BETTER

VERDICTS = ("reproduced", "drift", "failed")
_RANK = {v: i for i, v in enumerate(VERDICTS)}


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    documented: float
    reproduced: float
    tolerance: float
    verdict: str

    @property
    def delta(self) -> float:
        return self.reproduced - self.documented

    @property
    def direction(self) -> str:
        """'better', 'worse' or 'equal', relative to the documented number."""
        if self.delta == 0:
            return "equal"
        better = (self.delta > 0) == HIGHER_IS_BETTER.get(self.name, True)
        return "better" if better else "worse"


@dataclass(frozen=True)
class RowVerdict:
    row_id: str
    metrics: tuple[MetricVerdict, ...]
    partial: bool

    @property
    def verdict(self) -> str:
        """Worst metric verdict; 'missing' when no documented metric was reproduced."""
        if not self.metrics:
            return "missing"
        return max((m.verdict for m in self.metrics), key=_RANK.__getitem__)

    @property
    def label(self) -> str:
        """What a report shows: partial runs can never read as a reproduction."""
        return f"partial ({self.verdict})" if self.partial else self.verdict


def metric_verdict(name: str, documented: float, reproduced: float, tolerance: float) -> MetricVerdict:
    # Compare on the documented number's own grid: the seeds print 3 decimals, so round the absolute
    # difference to 1e-9 to keep float noise (0.1 + 0.2 style) from flipping a verdict at the boundary.
    diff = round(abs(reproduced - documented), 9)
    if diff <= tolerance:
        verdict = "reproduced"
    elif diff <= 2 * tolerance:
        verdict = "drift"
    else:
        verdict = "failed"
    return MetricVerdict(name, documented, reproduced, tolerance, verdict)


def row_verdict(
    row_id: str,
    documented: Mapping[str, float],
    reproduced: Mapping[str, float],
    tolerances: Mapping[str, float],
    *,
    partial: bool,
) -> RowVerdict:
    """Compare every documented metric that the run produced. A documented metric the run lacks is a failure."""
    out = []
    for name, doc in documented.items():
        if name not in reproduced:
            out.append(MetricVerdict(name, doc, float("nan"), tolerances[name], "failed"))
            continue
        out.append(metric_verdict(name, doc, float(reproduced[name]), tolerances[name]))
    return RowVerdict(row_id, tuple(out), partial)
