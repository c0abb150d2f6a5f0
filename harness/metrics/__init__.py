"""Scoring predictions against annotations: COCO-style AP/AR (coco.py), Horse-10 PCK/NME (pck.py), CrowdPose
AP with its crowd bins (crowdpose.py) and MPII PCKh (pckh.py).

`score` dispatches on the protocol's `Evaluator` and returns plain JSON-ready data:

    {"metrics": {"AP": ..., "AP50": ..., "AP75": ..., "AR": ..., "AR50": ...},   # or {"PCK@0.3": ..., "NME": ...}
     "extra_metrics": {...},        # COCO: APm, APl, AR75, ARm, ARl
     "per_keypoint": {joint: {...}},
     "evaluator": {...}, "counts": {...},
     "scoring": {"requested": "library" | "fast", "backend": what actually ran}}

Running the model is separate from scoring it (DESIGN.md principle 5): predictions may come from any producer.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from harness.errors import MetricError
from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.coco_common import check_backend
from harness.metrics.crowdpose import score_crowdpose
from harness.metrics.pck import horse10_pck_mmpose029, horse10_pck_nme
from harness.metrics.pckh import score_pckh
from zoo.schema import (
    COCO_METRICS,
    AnyEvaluator,
    Evaluator,
    EvaluatorKind,
    KeypointSchema,
    PckNormalizer,
    ScoringBackend,
)

__all__ = ["BBOX_NORMALIZER", "score"]

#: `Evaluator.normalize` value selecting the mmpose 0.29 Horse-10 'PCK' (longer GT bbox side, PROTOCOLS.md §5).
BBOX_NORMALIZER: PckNormalizer = "bbox_longer_side"


def _one_of(vocabulary: Any) -> str:
    """`'a' or 'b'` for an error message, from the Literal in zoo/schema.py that defines the vocabulary."""
    return " or ".join(repr(v) for v in get_args(vocabulary))


def _evaluator_dict(evaluator: AnyEvaluator) -> dict[str, Any]:
    return dataclasses.asdict(evaluator)


def _score_coco(
    predictions: Any,
    *,
    evaluator: Evaluator,
    gt: Any,
    schema: KeypointSchema,
    sigmas: Sequence[float] | None,
    per_keypoint: bool,
    backend: ScoringBackend,
) -> dict[str, Any]:
    if sigmas is None:
        if evaluator.sigmas not in (None, schema.name):
            raise MetricError(
                f"the evaluator uses the sigmas of schema {evaluator.sigmas!r}, not {schema.name!r}: pass sigmas="
            )
        sigmas = schema.sigmas
    if sigmas is None:
        raise MetricError(f"keypoint schema {schema.name!r} has no OKS sigmas; COCO-style scoring needs them")
    result = evaluate_coco_keypoints(
        predictions,
        gt,
        sigmas=sigmas,
        use_area=evaluator.use_area,
        library=evaluator.library or "xtcocotools",
        keypoint_names=schema.keypoints,
        per_keypoint=per_keypoint,
        backend=backend,
    )
    return {
        "metrics": {k: result.metrics[k] for k in COCO_METRICS},
        "extra_metrics": {k: v for k, v in result.metrics.items() if k not in COCO_METRICS},
        "per_keypoint": {k: dict(v) for k, v in result.per_keypoint.items()},
        "counts": {
            "predictions": result.num_predictions,
            "dropped_zero_score": result.num_dropped_zero_score,
            "images": result.num_images,
        },
        "scoring": {"requested": backend, "backend": result.backend},
    }


def _score_pck(
    predictions: Any, *, evaluator: Evaluator, gt: Any, schema: KeypointSchema, backend: ScoringBackend
) -> dict[str, Any]:
    if evaluator.normalize == BBOX_NORMALIZER:
        result = horse10_pck_mmpose029(
            predictions, gt, threshold=evaluator.pck_threshold or 0.2, keypoint_names=schema.keypoints
        )
    elif evaluator.normalize in (None, "nose_eye"):
        result = horse10_pck_nme(
            predictions, gt, threshold=evaluator.pck_threshold or 0.3, keypoint_names=schema.keypoints
        )
    else:
        raise MetricError(f"unknown PCK normaliser {evaluator.normalize!r}; expected {_one_of(PckNormalizer)}")
    return {
        "metrics": dict(result.metrics),
        "per_keypoint": {k: dict(v) for k, v in result.per_keypoint.items()},
        "variant": result.variant,
        "counts": {"instances": result.num_instances},
        # PCK/NME has one implementation (pck.py); a "fast" request runs it too.
        "scoring": {"requested": backend, "backend": "library"},
    }


def score(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    evaluator: AnyEvaluator,
    gt: Any,
    schema: KeypointSchema,
    sigmas: Sequence[float] | None = None,
    per_keypoint: bool = True,
    backend: ScoringBackend = "library",
) -> dict[str, Any]:
    """Score COCO-results predictions with the semantics of `evaluator` (PROTOCOLS.md §5).

    predictions: list of {image_id, category_id, keypoints [x, y, score] * K, score} or a JSON path.
    gt: COCO-style annotation dict or path; for `pckh`, the PCKh ground truth (.mat path or
    harness.metrics.pckh.PckhGroundTruth). schema: the dataset's keypoint schema (names; sigmas unless `sigmas`).
    sigmas: [K] OKS sigmas when `evaluator.sigmas` names another schema than `schema`.
    per_keypoint: COCO-style only; False skips the K single-joint evaluations (PCK's breakdown is free).
    backend: COCO-style only: "library" (xtcocotools/pycocotools, the evaluator of record) or "fast" (the
    bit-identical vectorised evaluator, harness/metrics/fast_coco.py; the library for inputs it does not model).
    The result's "scoring" records what was asked and what ran.
    Returns {"metrics": {...}, "per_keypoint": {...}, "evaluator": {...}, "counts": {...}, ...}; metric names are
    exactly AP, AP50, AP75, AR, AR50 (COCO-style), PCK@0.3, NME (Horse-10), PCK (mmpose 0.29 Horse-10), or Mean,
    Mean@0.1 (MPII PCKh).
    """
    check_backend(backend)
    if evaluator.kind == "coco_keypoints":
        out = _score_coco(
            predictions, evaluator=evaluator, gt=gt, schema=schema, sigmas=sigmas, per_keypoint=per_keypoint,
            backend=backend,
        )  # fmt: skip
    elif evaluator.kind == "crowdpose_keypoints":
        out = score_crowdpose(predictions, evaluator=evaluator, gt=gt, schema=schema, sigmas=sigmas, backend=backend)
    elif evaluator.kind == "pck_nme":
        out = _score_pck(predictions, evaluator=evaluator, gt=gt, schema=schema, backend=backend)
    elif evaluator.kind == "pckh":
        out = score_pckh(predictions, evaluator=evaluator, gt=gt, schema=schema, backend=backend)
    else:
        raise MetricError(f"unknown evaluator kind {evaluator.kind!r}; expected {_one_of(EvaluatorKind)}")
    return {**out, "evaluator": _evaluator_dict(evaluator)}
