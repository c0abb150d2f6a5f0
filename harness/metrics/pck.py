"""Horse-10 PCK / NME as pure functions with an update step (sufficient statistics) and a compute step.

Two variants (PROTOCOLS.md §5, §8 item 11):

- Model-zoo era (mmpose 2021-04, produced the README's PCK@0.3 / NME): `horse10_pck_nme`.
  Normaliser L = ||GT joint 0 (Nose) - GT joint 1 (Eye)|| on raw coordinates, visible or not; L <= 0 -> 1e6 (that
  instance's joints then count as ~0 error, i.e. correct). d = ||pred - gt|| / L for visible joints (v > 0).
  PCK@0.3: per joint type acc_j = #(d < 0.3, strict) / #visible; PCK = mean of acc_j over joint types with at least
  one visible instance (macro). NME = mean of d over every visible (instance, joint) pair (micro).
- mmpose 0.29 (0.x HEAD): `horse10_pck_mmpose029`. Reported as 'PCK': PCK@0.2 normalised by the longer side of the
  raw GT bbox, instances with a zero normaliser excluded, same macro average. 0.29's Horse-10 NME raises TypeError
  (its normaliser override does not accept the `box_sizes` argument the base class passes), so this variant
  reports no NME.

Sharded runs: `pck_update` on each shard, `pck_merge` the statistics, `pck_compute` once. Distances are float64
(NME merged from shards equals the single-run value up to summation order).

Matching predictions to GT instances (`match_predictions`): GT instances are every non-crowd annotation with
max(keypoints) > 0, in image order of the file, then annotation order within an image; their running index is the
bbox_id (PROTOCOLS.md §5). Predictions that all carry `bbox_id` are matched by it; otherwise, within each image,
the i-th prediction of the file is matched to the i-th GT instance of that image.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import PredictionError
from harness.metrics._predictions import load_ground_truth, load_predictions, num_keypoints_of, validate_predictions
from harness.metrics.ground_truth import PCK_FIELDS_READ, check_ground_truth, source_of

#: PROTOCOLS.md §5: an instance whose normaliser is <= 0 is divided by this instead (model-zoo era).
ZERO_NORMALIZER_REPLACEMENT = 1e6


@dataclass(frozen=True)
class PoseGroundTruth:
    """GT instances of a Horse-10-style file, in bbox_id order (N instances, K joints)."""

    image_ids: tuple[Any, ...]  # [N]
    ann_ids: tuple[Any, ...]  # [N]
    keypoints: np.ndarray  # [N, K, 2] raw x, y (unlabelled joints are usually (0, 0))
    visible: np.ndarray  # [N, K] bool, v > 0
    bboxes: np.ndarray  # [N, 4] raw x, y, w, h (never cleaned, PROTOCOLS.md §8 item 3)

    @property
    def num_instances(self) -> int:
        return len(self.image_ids)


@dataclass(frozen=True)
class PckStats:
    """Sufficient statistics of PCK / NME over any number of instances (mergeable across shards)."""

    hits: np.ndarray  # [K] int64: visible joints with d < threshold
    visible: np.ndarray  # [K] int64: visible (counted) joints
    dist_sum: np.ndarray  # [K] float64: sum of normalised distances of visible joints


@dataclass(frozen=True)
class PckMetrics:
    """Named result: `metrics` ('PCK@0.3', 'NME' or, for mmpose 0.29, 'PCK') and per-joint values."""

    metrics: Mapping[str, float]
    per_keypoint: Mapping[str, Mapping[str, float | int | None]]
    variant: str
    num_instances: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "per_keypoint": {k: dict(v) for k, v in self.per_keypoint.items()},
            "variant": self.variant,
            "num_instances": self.num_instances,
        }


def pose_ground_truth(gt: Mapping[str, Any]) -> PoseGroundTruth:
    """GT instances (PROTOCOLS.md §5): non-crowd annotations with max(keypoints) > 0, image order then file order."""
    k = num_keypoints_of(gt)
    by_image: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for ann in gt["annotations"]:
        by_image[ann["image_id"]].append(ann)
    image_ids, ann_ids, kpts, bboxes = [], [], [], []
    for img in gt["images"]:
        for ann in by_image.get(img["id"], []):
            if ann.get("iscrowd", 0) or max(ann["keypoints"]) <= 0:
                continue
            image_ids.append(img["id"])
            ann_ids.append(ann.get("id"))
            kpts.append(np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3))
            bboxes.append(np.asarray(ann["bbox"], dtype=np.float64))
    arr = np.stack(kpts) if kpts else np.zeros((0, k, 3))
    return PoseGroundTruth(
        image_ids=tuple(image_ids),
        ann_ids=tuple(ann_ids),
        keypoints=arr[:, :, :2],
        visible=arr[:, :, 2] > 0,
        bboxes=np.stack(bboxes) if bboxes else np.zeros((0, 4)),
    )


def match_predictions(predictions: Sequence[Mapping[str, Any]], gt: PoseGroundTruth) -> np.ndarray:
    """Predicted joints [N, K, 2] in GT instance order (see the module docstring for the rule).

    predictions: validated COCO results (image_id, keypoints [x, y, score] * K, optional bbox_id).
    """
    n, k = gt.keypoints.shape[:2]
    out = np.zeros((n, k, 2), dtype=np.float64)
    if predictions and all("bbox_id" in p for p in predictions):
        ids = sorted(p["bbox_id"] for p in predictions)
        if ids != list(range(n)):
            raise PredictionError(
                f"predictions carry bbox_ids {ids[:10]}{'...' if len(ids) > 10 else ''}, but the annotations have "
                f"{n} GT instances with bbox_ids 0..{n - 1}: expected each exactly once."
            )
        wrong = [p["bbox_id"] for p in predictions if p["image_id"] != gt.image_ids[p["bbox_id"]]]
        if wrong:
            raise PredictionError(f"predictions with bbox_id {wrong[:10]} name another image than that GT instance.")
        for p in predictions:
            out[p["bbox_id"]] = np.asarray(p["keypoints"], dtype=np.float64).reshape(k, 3)[:, :2]
        return out
    rows: dict[Any, list[int]] = defaultdict(list)
    for i, image_id in enumerate(gt.image_ids):
        rows[image_id].append(i)
    preds_of: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for p in predictions:
        preds_of[p["image_id"]].append(p)
    bad = [
        f"{image_id} ({len(preds_of.get(image_id, []))} predictions, {len(rows.get(image_id, []))} GT)"
        for image_id in dict.fromkeys([*rows, *preds_of])
        if len(preds_of.get(image_id, [])) != len(rows.get(image_id, []))
    ]
    if bad:
        raise PredictionError(
            "PCK needs one prediction per GT instance (non-crowd, max(keypoints) > 0) and these images do not "
            f"match: {', '.join(bad[:10])}; give predictions a bbox_id or one per GT instance in file order."
        )
    for image_id, idx in rows.items():
        for i, p in zip(idx, preds_of[image_id], strict=True):
            out[i] = np.asarray(p["keypoints"], dtype=np.float64).reshape(k, 3)[:, :2]
    return out


def nose_eye_normalizer(gt_keypoints: np.ndarray) -> np.ndarray:
    """[N, K, 2] -> [N]: ||joint 0 - joint 1|| on raw coordinates; <= 0 -> 1e6 (PROTOCOLS.md §5, model-zoo era)."""
    norm = np.linalg.norm(gt_keypoints[:, 0] - gt_keypoints[:, 1], axis=-1)
    return np.where(norm <= 0, ZERO_NORMALIZER_REPLACEMENT, norm)


def bbox_longer_side_normalizer(bboxes: np.ndarray) -> np.ndarray:
    """[N, 4] xywh -> [N]: max(w, h) of the raw GT bbox (mmpose 0.29 generic PCK); zeros are kept (excluded later)."""
    return np.max(bboxes[:, 2:4], axis=-1)


def pck_update(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    normalizer: np.ndarray,
    *,
    threshold: float,
    exclude_zero_normalizer: bool = False,
) -> PckStats:
    """Sufficient statistics of one batch.

    pred, gt: [N, K, 2]; visible: [N, K] bool; normalizer: [N] (already > 0 unless excluded).
    exclude_zero_normalizer: drop instances whose normaliser is 0 (mmpose 0.29); remaining values <= 0 -> 1e6.
    """
    mask = np.asarray(visible, dtype=bool).copy()
    norm = np.asarray(normalizer, dtype=np.float64).copy()
    if exclude_zero_normalizer:
        mask[norm == 0] = False
    norm[norm <= 0] = ZERO_NORMALIZER_REPLACEMENT
    dist = np.linalg.norm((np.asarray(pred, np.float64) - np.asarray(gt, np.float64)) / norm[:, None, None], axis=-1)
    dist = np.where(mask, dist, 0.0)
    return PckStats(
        hits=np.sum(mask & (dist < threshold), axis=0, dtype=np.int64),  # strict <: PROTOCOLS.md §5
        visible=np.sum(mask, axis=0, dtype=np.int64),
        dist_sum=np.sum(dist, axis=0, dtype=np.float64),
    )


def pck_merge(stats: Iterable[PckStats]) -> PckStats:
    """Sum the statistics of several shards."""
    items = list(stats)
    if not items:
        raise ValueError("pck_merge needs at least one PckStats")
    return PckStats(
        hits=np.sum([s.hits for s in items], axis=0),
        visible=np.sum([s.visible for s in items], axis=0),
        dist_sum=np.sum([s.dist_sum for s in items], axis=0),
    )


def pck_compute(stats: PckStats) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(PCK, NME, per-joint acc [K], per-joint mean d [K]); NaN where nothing is visible.

    PCK: macro mean of acc_j over joints with >= 1 visible instance; NME: micro mean over visible pairs.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = stats.hits / stats.visible
        mean_d = stats.dist_sum / stats.visible
    seen = stats.visible > 0
    pck = float(np.mean(acc[seen])) if seen.any() else math.nan
    total = int(stats.visible.sum())
    nme = float(stats.dist_sum.sum() / total) if total else math.nan
    return pck, nme, acc, mean_d


def _prepare(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    keypoint_names: Sequence[str] | None,
) -> tuple[PoseGroundTruth, np.ndarray, tuple[str, ...]]:
    gt_data = load_ground_truth(gt)
    k = num_keypoints_of(gt_data)
    check_ground_truth(gt_data, num_keypoints=k, source=source_of(gt), required=PCK_FIELDS_READ)
    preds = validate_predictions(load_predictions(predictions), gt_data, num_keypoints=k, require_score=False)
    truth = pose_ground_truth(gt_data)
    names = tuple(keypoint_names or gt_data["categories"][0].get("keypoints") or [str(j) for j in range(k)])
    if len(names) != k:
        raise PredictionError(f"{len(names)} keypoint names given for annotations with K = {k} keypoints.")
    return truth, match_predictions(preds, truth), names


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def horse10_pck_nme(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    threshold: float = 0.3,
    keypoint_names: Sequence[str] | None = None,
) -> PckMetrics:
    """Model-zoo-era Horse-10 'PCK@0.3' and 'NME' (Nose-Eye normaliser; PROTOCOLS.md §5, §8 item 11)."""
    truth, pred, names = _prepare(predictions, gt, keypoint_names)
    stats = pck_update(pred, truth.keypoints, truth.visible, nose_eye_normalizer(truth.keypoints), threshold=threshold)
    pck, nme, acc, mean_d = pck_compute(stats)
    key = f"PCK@{threshold:g}"
    per_joint = {
        name: MappingProxyType(
            {key: _none_if_nan(acc[j]), "NME": _none_if_nan(mean_d[j]), "visible": int(stats.visible[j])}
        )
        for j, name in enumerate(names)
    }
    return PckMetrics(
        metrics=MappingProxyType({key: pck, "NME": nme}),
        per_keypoint=MappingProxyType(per_joint),
        variant="model-zoo era: PCK normalised by Nose-Eye distance, NME micro mean",
        num_instances=truth.num_instances,
    )


def horse10_pck_mmpose029(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    threshold: float = 0.2,
    keypoint_names: Sequence[str] | None = None,
) -> PckMetrics:
    """mmpose 0.29 (0.x HEAD) Horse-10 'PCK': PCK@0.2 by the longer GT bbox side, zero-normaliser instances
    excluded. No NME: 0.29 raises TypeError computing it (PROTOCOLS.md §5)."""
    truth, pred, names = _prepare(predictions, gt, keypoint_names)
    norm = bbox_longer_side_normalizer(truth.bboxes)
    stats = pck_update(pred, truth.keypoints, truth.visible, norm, threshold=threshold, exclude_zero_normalizer=True)
    pck, _, acc, _ = pck_compute(stats)
    per_joint = {
        name: MappingProxyType({"PCK": _none_if_nan(acc[j]), "visible": int(stats.visible[j])})
        for j, name in enumerate(names)
    }
    return PckMetrics(
        metrics=MappingProxyType({"PCK": pck}),
        per_keypoint=MappingProxyType(per_joint),
        variant=f"mmpose 0.29: PCK@{threshold:g} normalised by the longer GT bbox side; NME not available",
        num_instances=truth.num_instances,
    )
