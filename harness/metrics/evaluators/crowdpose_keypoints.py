"""Scorer of zoo.evaluators.crowdpose_keypoints: xtcocotools' `keypoints_crowd`, as MMPose 0.29 calls it (the metric
code is harness/metrics/crowdpose.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.metrics.crowdpose import FIELDS_READ, check_crowd_index, score_crowdpose
from zoo.evaluators.crowdpose_keypoints import CrowdPoseEvaluator


def fields_read(evaluator: CrowdPoseEvaluator) -> tuple[str, ...]:
    return FIELDS_READ


def check(evaluator: CrowdPoseEvaluator, gt: Mapping[str, Any], *, source: str) -> None:
    # The library sorts images into the easy/medium/hard bins by their crowdIndex: every image needs a finite one.
    check_crowd_index(gt, source=source)


def score(predictions: Any, *, per_keypoint: bool, **kw: Any) -> dict[str, Any]:
    # No per-keypoint breakdown (MMPose's keypoints_crowd has none), so `per_keypoint` changes nothing.
    return score_crowdpose(predictions, **kw)
