"""COCO-style keypoint AP/AR (PROTOCOLS.md §5): one entry point that dispatches on the scoring backend.

- "library" (coco_library.py): xtcocotools / pycocotools themselves, the evaluator of record (DESIGN.md principle 6),
  behind a quiet adapter that returns named metrics. Its docstring states the semantics, the per-keypoint breakdown
  included.
- "fast" (fast_coco.py over the pure array core, fast_core.py): the same numbers bit for bit, ~70x faster on
  COCO-val-sized inputs (tests/harness/metrics/test_fast_coco*.py); inputs it does not model go to the library.

Imports run one way: this module -> fast_coco -> (coco_library, fast_core) -> coco_common; nothing imports this
module back. The result record, names and checks they share are in coco_common.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.metrics.coco_common import CocoMetrics, check_backend, check_library
from harness.metrics.coco_library import evaluate_with_library
from harness.metrics.fast_coco import evaluate_coco_keypoints_fast
from zoo.evaluators.coco_keypoints import CocoLibrary
from zoo.registry.schema import ScoringBackend

__all__ = ["evaluate_coco_keypoints"]


def evaluate_coco_keypoints(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: CocoLibrary = "xtcocotools",
    keypoint_names: Sequence[str] | None = None,
    per_keypoint: bool = True,
    backend: ScoringBackend = "library",
) -> CocoMetrics:
    """COCO keypoint AP/AR of `predictions` against `gt` with the given library's semantics (PROTOCOLS.md §5).

    predictions: COCO results (list of {image_id, category_id, keypoints [x, y, score] * K, score}) or a JSON path.
    gt: COCO-style annotation dict or path. Neither is mutated.
    sigmas: [K] OKS sigmas. use_area: False -> OKS area 0.53 * bbox w*h (AIC).
    keypoint_names: [K] names for `per_keypoint` (default: the annotation category's names).
    backend: "library" runs the library (the evaluator of record); "fast" the vectorised twin in fast_coco.py
    (same numbers bit for bit), which hands inputs it does not model to the library. The result's `backend` says
    which one ran.
    Raises PredictionError for unknown image ids, keypoints of the wrong length, non-finite values;
    DataError for annotations that cannot be scored.
    """
    check_library(library)
    check_backend(backend)
    scorer = evaluate_coco_keypoints_fast if backend == "fast" else evaluate_with_library
    return scorer(
        predictions, gt, sigmas=sigmas, use_area=use_area, library=library, keypoint_names=keypoint_names,
        per_keypoint=per_keypoint,
    )  # fmt: skip
