"""Evaluator kinds: the ONE table of the records zoo.yaml's `evaluator: {kind: ...}` may name.

Each kind is a module here (its record, zoo.evaluators.base) plus a line in EVALUATORS; its scorer is the module of
the same name in harness/metrics/evaluators/, in that package's table (tests/zoo/test_evaluators.py checks that both
tables name the same kinds). The metric vocabulary of the registry, the page importer and the verdicts is the union
of what the kinds declare. docs/DESIGN.md, "Adding an evaluator".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from zoo.errors import UnknownEntryError
from zoo.evaluators.base import EvaluatorRecord
from zoo.evaluators.coco_keypoints import CocoKeypointsEvaluator
from zoo.evaluators.crowdpose_keypoints import CrowdPoseEvaluator
from zoo.evaluators.pck_nme import PckNmeEvaluator
from zoo.evaluators.pckh import PckhEvaluator

__all__ = ["EVALUATORS", "HIGHER_IS_BETTER", "METRIC_NAMES", "PAGE_COLUMNS", "Evaluator", "make_evaluator", "record_of"]

#: kind -> record class. A record's `kind` default is its key here.
EVALUATORS: Mapping[str, type[EvaluatorRecord]] = MappingProxyType(
    {
        "coco_keypoints": CocoKeypointsEvaluator,
        "pck_nme": PckNmeEvaluator,
        "crowdpose_keypoints": CrowdPoseEvaluator,
        "pckh": PckhEvaluator,
    }
)

#: A row's evaluator: one of the records of EVALUATORS, which one its `kind` says.
Evaluator = EvaluatorRecord

#: Every metric name, in table order (README columns, `zoo search`, tolerances).
METRIC_NAMES: tuple[str, ...] = tuple(dict.fromkeys(m for cls in EVALUATORS.values() for m in cls.metrics))
#: Metrics where a larger value is better (the sign of a delta is reported relative to this).
HIGHER_IS_BETTER: Mapping[str, bool] = MappingProxyType(
    {m: m not in cls.lower_is_better for cls in EVALUATORS.values() for m in cls.metrics}
)
#: A column of MMPose's results tables -> the metric it prints, over every kind.
PAGE_COLUMNS: Mapping[str, str] = MappingProxyType(
    {col: m for cls in EVALUATORS.values() for col, m in cls.page_columns.items()}
)


def record_of(kind: str) -> type[EvaluatorRecord]:
    """The record class of `kind`; an unknown kind raises UnknownEntryError naming the known ones."""
    try:
        return EVALUATORS[kind]
    except KeyError:
        close = difflib.get_close_matches(str(kind), list(EVALUATORS), n=3, cutoff=0.5)
        known = f"The known kinds: {', '.join(EVALUATORS)} (docs/DESIGN.md, 'Adding an evaluator')."
        raise UnknownEntryError("evaluator kind", str(kind), close, next_step=known) from None


def make_evaluator(kind: str, **settings: Any) -> EvaluatorRecord:
    """The record of `kind` with these settings (the fields zoo.yaml would set)."""
    return record_of(kind)(**settings)
