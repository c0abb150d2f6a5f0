"""Scorer of zoo.evaluators.pckh: MPII's PCKh against the .mat ground truth beside the annotation file (the metric
code is harness/metrics/pckh.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import DataError
from harness.metrics.pckh import PckhGroundTruth, ground_truth_path, read_pckh_ground_truth, score_pckh
from zoo.evaluators.pckh import PckhEvaluator
from zoo.registry.schema import KeypointSchema


def fields_read(evaluator: PckhEvaluator) -> tuple[str, ...]:
    return ()  # PCKh reads the .mat (`truth`), not the annotations' fields


def read_truth(
    evaluator: PckhEvaluator, *, ann_file: str | os.PathLike[str], gt: Mapping[str, Any], schema: KeypointSchema
) -> PckhGroundTruth:
    """MPII's .mat beside the annotation file, checked to hold one person per annotation, in order (both come from
    mpii_annotations.tar), before hours of inference."""
    found = read_pckh_ground_truth(ground_truth_path(ann_file, evaluator), num_keypoints=schema.num_keypoints)
    persons = len(gt["annotations"])
    if found.num_persons != persons:
        raise DataError(
            f"{found.source} holds {found.num_persons} persons but {ann_file} has {persons} records: "
            "they must be the same persons in the same order (both come from mpii_annotations.tar)"
        )
    return found


def select_truth(found: PckhGroundTruth, gt: Mapping[str, Any]) -> PckhGroundTruth:
    """The persons of the selected images (their annotation ids are the bbox_ids)."""
    return found.subset([a["id"] for a in gt["annotations"]])


def score(
    predictions: Any,
    *,
    evaluator: PckhEvaluator,
    gt: Any,
    schema: KeypointSchema,
    sigmas: Sequence[float] | None,
    per_keypoint: bool,
    backend: Any,
) -> dict[str, Any]:
    # gt: the .mat's path or a PckhGroundTruth; per-keypoint PCKh comes with the means.
    return score_pckh(predictions, evaluator=evaluator, gt=gt, schema=schema, backend=backend)
