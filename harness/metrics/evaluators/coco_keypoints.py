"""Scorer of zoo.evaluators.coco_keypoints: COCO-style OKS AP/AR by the library of record, or the fast twin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.coco_common import oks_sigmas
from harness.metrics.ground_truth import coco_fields_read
from zoo.evaluators.coco_keypoints import METRICS, CocoKeypointsEvaluator
from zoo.registry.schema import KeypointSchema, ScoringBackend


def fields_read(evaluator: CocoKeypointsEvaluator) -> tuple[str, ...]:
    return coco_fields_read(evaluator.use_area)


def score(
    predictions: Any,
    *,
    evaluator: CocoKeypointsEvaluator,
    gt: Any,
    schema: KeypointSchema,
    sigmas: Sequence[float] | None,
    per_keypoint: bool,
    backend: ScoringBackend,
) -> dict[str, Any]:
    sigmas = oks_sigmas(sigmas, evaluator=evaluator, schema=schema, scoring="COCO-style scoring")
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
        "metrics": {k: result.metrics[k] for k in METRICS},
        "extra_metrics": {k: v for k, v in result.metrics.items() if k not in METRICS},
        "per_keypoint": {k: dict(v) for k, v in result.per_keypoint.items()},
        "counts": {
            "predictions": result.num_predictions,
            "dropped_zero_score": result.num_dropped_zero_score,
            "images": result.num_images,
        },
        "scoring": {"requested": backend, "backend": result.backend},
    }
