"""What both COCO keypoint scorers share: the result record, the statistic names, the closed vocabularies, the
input checks run before either scores, and COCOeval.summarize's mean.

A leaf under the dispatcher (coco.py), the library adapter (coco_library.py) and the fast path (fast_coco.py,
fast_core.py): each imports from here, none from another's module, so the imports between them run one way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np

from harness.errors import DataError, MetricError
from harness.metrics._predictions import num_keypoints_of
from harness.metrics.ground_truth import check_ground_truth, coco_fields_read
from zoo.evaluators.coco_keypoints import CocoLibrary
from zoo.registry.schema import ScoringBackend

#: The libraries whose semantics a protocol may name (zoo.evaluators.coco_keypoints.CocoLibrary).
LIBRARIES: tuple[str, ...] = get_args(CocoLibrary)
#: "library": xtcocotools / pycocotools themselves (the evaluator of record); "fast": harness/metrics/fast_coco.py,
#: bit-identical to them (tests/harness/metrics/test_fast_coco*.py), the library for inputs it does not model
#: (zoo.registry.schema.ScoringBackend).
BACKENDS: tuple[str, ...] = get_args(ScoringBackend)

#: Names of the ten keypoint summary statistics, in the order COCOeval.summarize() fills `stats`
#: (its printed labels: AP, AP .5, AP .75, AP (M), AP (L), AR, AR .5, AR .75, AR (M), AR (L); PROTOCOLS.md §5).
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass(frozen=True)
class CocoMetrics:
    """Named result of one COCO-style keypoint evaluation."""

    #: STAT_NAMES -> value (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl).
    metrics: Mapping[str, float]
    #: joint name -> {"AP": ..., "AR": ...} (coco_library.py's docstring defines them); empty when not asked.
    per_keypoint: Mapping[str, Mapping[str, float]]
    library: str
    use_area: bool
    num_predictions: int
    #: Predictions xtcocotools dropped because all their keypoint scores are exactly 0 (always 0 for pycocotools).
    num_dropped_zero_score: int
    num_images: int
    sigmas: tuple[float, ...] = field(default=())
    #: Which implementation computed these numbers: "library" or "fast" (a "fast" request may fall back).
    backend: str = "library"

    def as_dict(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "per_keypoint": {k: dict(v) for k, v in self.per_keypoint.items()},
            "library": self.library,
            "use_area": self.use_area,
            "num_predictions": self.num_predictions,
            "num_dropped_zero_score": self.num_dropped_zero_score,
            "num_images": self.num_images,
            "backend": self.backend,
        }


def check_library(library: str) -> None:
    if library not in LIBRARIES:
        raise MetricError(f"library must be one of {LIBRARIES}, got {library!r}")


def oks_sigmas(sigmas: Sequence[float] | None, *, evaluator: Any, schema: Any, scoring: str) -> Sequence[float]:
    """The OKS sigmas an OKS-scored evaluator uses: those passed, else the keypoint schema's when the evaluator names
    that schema (or none); an error names a mismatch or a schema without sigmas."""
    if sigmas is None:
        if evaluator.sigmas not in (None, schema.name):
            raise MetricError(
                f"the evaluator uses the sigmas of schema {evaluator.sigmas!r}, not {schema.name!r}: pass sigmas="
            )
        sigmas = schema.sigmas
    if sigmas is None:
        raise MetricError(f"keypoint schema {schema.name!r} has no OKS sigmas; {scoring} needs them")
    return sigmas


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise MetricError(f"scoring backend must be one of {BACKENDS}, got {backend!r}")


def mean_valid(a: np.ndarray) -> float:
    """COCOeval.summarize's mean over entries > -1 (-1 when none)."""
    valid = a[a > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _keypoint_names(gt: Mapping[str, Any], names: Sequence[str] | None, num_keypoints: int) -> tuple[str, ...]:
    if names is None:
        cats = gt["categories"]
        names = (
            cats[0].get("keypoints") if cats and cats[0].get("keypoints") else [str(k) for k in range(num_keypoints)]
        )
    if len(names) != num_keypoints:
        raise DataError(f"{len(names)} keypoint names given for annotations with K = {num_keypoints} keypoints.")
    return tuple(names)


def check_inputs(
    gt: Mapping[str, Any],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    keypoint_names: Sequence[str] | None,
    source: str = "annotations",
) -> tuple[int, tuple[str, ...]]:
    """(K, the K joint names) of loaded annotations that both scorers can score with these sigmas; DataError naming
    what is wrong otherwise (`source`: the file, for the message). Called once the predictions are read, so that both
    report problems in the same order. Every field the libraries read is checked (ground_truth.py)."""
    k = num_keypoints_of(gt)
    if len(sigmas) != k:
        raise DataError(f"{len(sigmas)} OKS sigmas given for annotations with K = {k} keypoints; use that schema's.")
    check_ground_truth(gt, num_keypoints=k, source=source, required=coco_fields_read(use_area))
    return k, _keypoint_names(gt, keypoint_names, k)
