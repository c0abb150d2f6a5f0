"""Scorer of zoo.evaluators.pck_nme: Horse-10's PCK/NME of the model-zoo era, or MMPose 0.29's 'PCK'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.metrics.ground_truth import PCK_FIELDS_READ
from harness.metrics.pck import horse10_pck_mmpose029, horse10_pck_nme
from zoo.evaluators.pck_nme import PckNmeEvaluator
from zoo.registry.schema import KeypointSchema, ScoringBackend


def fields_read(evaluator: PckNmeEvaluator) -> tuple[str, ...]:
    return PCK_FIELDS_READ


def score(
    predictions: Any,
    *,
    evaluator: PckNmeEvaluator,
    gt: Any,
    schema: KeypointSchema,
    sigmas: Sequence[float] | None,
    per_keypoint: bool,
    backend: ScoringBackend,
) -> dict[str, Any]:
    # The record's `normalize` is a closed choice (zoo.evaluators.pck_nme.PckNormalizer).
    scorer = horse10_pck_mmpose029 if evaluator.normalize == "bbox_longer_side" else horse10_pck_nme
    result = scorer(predictions, gt, threshold=evaluator.pck_threshold, keypoint_names=schema.keypoints)
    return {
        "metrics": dict(result.metrics),
        "per_keypoint": {k: dict(v) for k, v in result.per_keypoint.items()},
        "variant": result.variant,
        "counts": {"instances": result.num_instances},
        # PCK/NME has one implementation (pck.py); a "fast" request runs it too.
        "scoring": {"requested": backend, "backend": "library"},
    }
