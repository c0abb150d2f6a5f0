"""MPII PCKh (PROTOCOLS.md §11): the metric code of kind `pckh` (record: zoo.evaluators.pckh; scorer plug-in:
harness.metrics.evaluators.pckh).

What it reads. The ground truth is not the annotation json but MPII's MATLAB file of the split (`mpii_gt_val.mat`,
zoo.yaml `evaluator.gt_file`, found beside the annotation file as the reference looks for it): per person, the GT
joints in MATLAB's 1-based pixel coordinates, which joints are missing, and the two corners of the head box. Its
persons are in the order of the annotation json, so a prediction names its person by `bbox_id` (the running index
of the json's records). Every field read is checked first (`read_pckh_ground_truth`): a wrong file raises DataError
naming the file and the field, never a number.

What it computes. Predictions are 0-based (the harness's coordinates); they are moved to 1-based by adding 1 in
float32 (the reference adds 1.0 to its float32 array). A joint is correct when its distance to the GT is at most
`threshold` x the head size, the head size being `head_size_factor` x the diagonal of the head box (0.5 and 0.6 in
zoo.yaml); missing joints are not counted. Per joint, PCKh_j = correct_j / visible_j. `Mean` is the average of PCKh_j
over every joint but pelvis and thorax, weighted by visible_j; `Mean@0.1` the same at threshold 0.1, its per-joint
values stored in float32 first as the reference stores them. Both are fractions (the pages print 0.900 for the
reference's 90.0). Where a counted joint has no visible person at all (a small subset, never the full split) the
reference divides 0 by 0, so its mean is NaN, and so is ours (written null).

Public names (the scorer plug-in harness.metrics.evaluators.pckh uses these): `KIND` ("pckh"), `METRIC_NAMES`
(zoo.evaluators.pckh.METRICS), `ground_truth_path`, `PckhGroundTruth`, `read_pckh_ground_truth`, `PckhMetrics`,
`evaluate_pckh`, and `score_pckh`.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import DataError, PredictionError
from harness.metrics._predictions import load_predictions
from zoo.evaluators.pckh import METRICS as PCKH_METRICS
from zoo.evaluators.pckh import PckhEvaluator
from zoo.registry.schema import KeypointSchema, ScoringBackend

KIND = "pckh"
METRIC_NAMES = PCKH_METRICS

#: The joint names of MPII's .mat (`dataset_joints`), in the channel order of zoo/keypoints.yaml's `mpii` schema.
MAT_JOINTS = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri",
)  # fmt: skip
#: Left out of both means: pelvis and thorax.
LEFT_OUT = ("pelv", "thor")
#: The per-part averages the reference also reports (a part is the mean of its joints' PCKh).
PARTS = {
    "Head": ("head",),
    "Shoulder": ("lsho", "rsho"),
    "Elbow": ("lelb", "relb"),
    "Wrist": ("lwri", "rwri"),
    "Hip": ("lhip", "rhip"),
    "Knee": ("lkne", "rkne"),
    "Ankle": ("lank", "rank"),
}
#: `Mean@0.1`'s threshold.
TENTH = 0.1


@dataclass(frozen=True)
class PckhGroundTruth:
    """The persons of a PCKh ground-truth file (N persons, K joints), or a subset of them."""

    joints: np.ndarray  # [N, K, 2] float64, 1-based x, y
    missing: np.ndarray  # [N, K] bool
    head_boxes: np.ndarray  # [N, 2, 2] float64: two corners (x, y) of each head box
    bbox_ids: np.ndarray  # [N] int64: each person's index in the file (the annotation json's order)
    source: str

    @property
    def num_persons(self) -> int:
        return len(self.bbox_ids)

    def subset(self, bbox_ids: Sequence[int]) -> PckhGroundTruth:
        """The persons with these bbox_ids (a --limit run scores only its own images' persons)."""
        index = {int(b): i for i, b in enumerate(self.bbox_ids)}
        unknown = [b for b in bbox_ids if int(b) not in index]
        if unknown:
            raise DataError(f"{self.source} has no person with bbox_id {unknown[:5]} (it has {self.num_persons})")
        rows = np.array([index[int(b)] for b in bbox_ids], dtype=np.int64)
        return PckhGroundTruth(
            self.joints[rows], self.missing[rows], self.head_boxes[rows], self.bbox_ids[rows], self.source
        )


def ground_truth_path(ann_file: str | os.PathLike[str], evaluator: PckhEvaluator) -> Path:
    """Where the PCKh ground truth of an annotation file is: `evaluator.gt_file` in the same folder (the
    reference's rule); given the .mat itself, that is the file."""
    return Path(ann_file).parent / evaluator.gt_file


def _field(mat: Mapping[str, Any], name: str, source: str, shape: str) -> np.ndarray:
    if name not in mat:
        raise DataError(f"{source}: no '{name}' field; expected a PCKh ground-truth file with {shape} (MPII's .mat)")
    return np.asarray(mat[name])


def _numeric(mat: Mapping[str, Any], name: str, source: str, shape: tuple[int | None, ...], spelled: str):
    value = _field(mat, name, source, spelled)
    fits = value.ndim == len(shape) and all(want in (None, got) for want, got in zip(shape, value.shape, strict=True))
    if value.dtype.kind not in "iuf" or not fits:
        raise DataError(
            f"{source}: field '{name}' is {value.dtype} {tuple(value.shape)}, expected numbers of shape {spelled}; "
            "re-download the annotations (mpii_annotations.tar)"
        )
    return value.astype(np.float64)


def _joint_names(mat: Mapping[str, Any], source: str) -> tuple[str, ...]:
    """`dataset_joints`, a MATLAB cell array of strings, as a tuple of names."""
    value = _field(mat, "dataset_joints", source, f"{len(MAT_JOINTS)} joint names")
    names = []
    for cell in value.reshape(-1):
        inner = np.asarray(cell).reshape(-1)
        if inner.size != 1 or inner.dtype.kind not in "US":
            raise DataError(f"{source}: field 'dataset_joints' holds {cell!r}, expected one joint name per cell")
        names.append(str(inner[0]))
    return tuple(names)


def read_pckh_ground_truth(path: str | os.PathLike[str], *, num_keypoints: int = len(MAT_JOINTS)) -> PckhGroundTruth:
    """Read and check MPII's PCKh ground truth (.mat): every field the evaluation reads, before any is used.

    dataset_joints: the 16 names of MAT_JOINTS in that order (the channel order of the predictions);
    jnt_missing [K, N] of 0/1; pos_gt_src [K, 2, N], finite where not missing; headboxes_src [2, 2, N], finite with a
    positive diagonal for every person with a visible joint. Raises DataError naming the file and the field.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    source = str(path)
    try:
        mat = loadmat(str(path))
    except FileNotFoundError:
        raise DataError(
            f"PCKh ground truth {source} does not exist; it belongs beside the annotation file "
            "(MPII: mpii_gt_val.mat from mpii_annotations.tar, `python -m harness data fetch mpii`)"
        ) from None
    except (
        MatReadError,
        ValueError,
        TypeError,
        OSError,
        IndexError,
        KeyError,
        EOFError,
        struct.error,
        zlib.error,
    ) as exc:
        # scipy parses the header and streams as it meets them: hostile bytes surface as any of these (IndexError
        # on a short header), none of them a bug of ours.
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise DataError(f"{source} is not a readable MATLAB file ({why}); re-download the annotations") from None
    names = _joint_names(mat, source)
    if len(MAT_JOINTS) != num_keypoints or names != MAT_JOINTS:
        raise DataError(
            f"{source}: field 'dataset_joints' lists {list(names)}, expected {list(MAT_JOINTS)} for a "
            f"{num_keypoints}-keypoint schema: this file belongs to another dataset or joint order"
        )
    k = len(MAT_JOINTS)
    missing = _numeric(mat, "jnt_missing", source, (k, None), f"[{k}, N]")
    n = missing.shape[1]
    joints = _numeric(mat, "pos_gt_src", source, (k, 2, n), f"[{k}, 2, N={n}]")
    boxes = _numeric(mat, "headboxes_src", source, (2, 2, n), f"[2, 2, N={n}]")
    if not np.isin(missing, (0.0, 1.0)).all():
        raise DataError(f"{source}: field 'jnt_missing' holds values other than 0 and 1")
    missing_b = missing.T.astype(bool)  # [N, K]
    joints = joints.transpose(2, 0, 1)  # [N, K, 2]
    boxes = boxes.transpose(2, 0, 1)  # [N, corner, xy]
    bad = ~np.isfinite(joints).all(axis=-1) & ~missing_b
    if bad.any():
        person, joint = np.argwhere(bad)[0]
        raise DataError(f"{source}: field 'pos_gt_src' is not finite for person {person}, joint {MAT_JOINTS[joint]}")
    counted = (~missing_b).any(axis=1)
    with np.errstate(invalid="ignore"):
        size = np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)
    bad = counted & ~(np.isfinite(size) & (size > 0))
    if bad.any():
        raise DataError(
            f"{source}: field 'headboxes_src' gives person {int(np.argmax(bad))} a head box without a positive "
            f"finite diagonal ({int(bad.sum())} such persons with visible joints): PCKh would divide by it"
        )
    return PckhGroundTruth(joints, missing_b, boxes, np.arange(n, dtype=np.int64), source)


@dataclass(frozen=True)
class PckhMetrics:
    """`metrics` (Mean, Mean@0.1), the per-part averages and the per-joint values, all fractions."""

    metrics: Mapping[str, float]
    parts: Mapping[str, float]
    per_keypoint: Mapping[str, Mapping[str, float | int | None]]
    num_persons: int


def _matched(predictions: Sequence[Mapping[str, Any]], gt: PckhGroundTruth, k: int) -> np.ndarray:
    """[N, K, 2] float32 predicted joints in the ground truth's person order, by bbox_id (each exactly once)."""
    where = {int(b): i for i, b in enumerate(gt.bbox_ids)}
    out = np.zeros((gt.num_persons, k, 2), dtype=np.float32)
    seen: set[int] = set()
    for i, p in enumerate(predictions):
        b = p.get("bbox_id") if isinstance(p, Mapping) else None
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or int(b) not in where or int(b) in seen:
            what = "no bbox_id" if b is None else f"bbox_id {b!r} ({'twice' if b in seen else 'no such person'})"
            raise PredictionError(
                f"prediction #{i} has {what}; PCKh matches predictions to the {gt.num_persons} persons of "
                f"{gt.source} by bbox_id, each exactly once"
            )
        kpts = p.get("keypoints")
        try:
            arr = np.asarray(kpts, dtype=np.float64).reshape(k, 3)
        except (TypeError, ValueError):
            raise PredictionError(f"prediction #{i} (bbox_id {b}): 'keypoints' is not {3 * k} numbers") from None
        if not np.isfinite(arr).all():
            raise PredictionError(f"prediction #{i} (bbox_id {b}): 'keypoints' holds NaN or infinity")
        seen.add(int(b))
        out[where[int(b)]] = arr[:, :2]
    if len(seen) != gt.num_persons:
        absent = [int(b) for b in gt.bbox_ids if int(b) not in seen]
        raise PredictionError(f"no prediction for bbox_id {absent[:10]} ({len(absent)} persons of {gt.source})")
    return out


def evaluate_pckh(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: PckhGroundTruth | str | os.PathLike[str],
    *,
    threshold: float,
    head_size_factor: float,
    keypoint_names: Sequence[str] | None = None,
) -> PckhMetrics:
    """PCKh of 0-based predictions (each with bbox_id and keypoints [x, y, score] * K) against MPII's ground truth."""
    truth = gt if isinstance(gt, PckhGroundTruth) else read_pckh_ground_truth(Path(gt))
    k = len(MAT_JOINTS)
    names = tuple(keypoint_names or MAT_JOINTS)
    if len(names) != k:
        raise PredictionError(f"{len(names)} keypoint names given; MPII's PCKh has {k} joints")
    pred = _matched(load_predictions(predictions), truth, k) + np.float32(1.0)  # 1-based, in float32
    pct, count = _percent_correct(pred, truth, threshold=threshold, head_size_factor=head_size_factor)
    kept = np.array([j not in LEFT_OUT for j in MAT_JOINTS])
    total = count[kept].sum()
    weight = np.where(kept, count, 0) / total if total else np.full(k, math.nan)
    # NaN (0/0 in a counted joint) stays NaN, as in the reference; masked joints contribute exact zeros.
    mean = {key: float(np.sum(np.where(kept, v * weight, 0.0))) if not np.isnan(v[kept]).any() else math.nan
            for key, v in pct.items()}  # fmt: skip
    index = {name: j for j, name in enumerate(MAT_JOINTS)}
    parts = {part: float(np.mean([pct["main"][index[j]] for j in joints])) / 100 for part, joints in PARTS.items()}
    per_joint = {
        name: MappingProxyType({"PCKh": _fraction(pct["main"][j]), "PCKh@0.1": _fraction(pct["tenth"][j]),
                                "visible": int(count[j])})
        for j, name in enumerate(names)
    }  # fmt: skip
    return PckhMetrics(
        metrics=MappingProxyType({"Mean": mean["main"] / 100, "Mean@0.1": mean["tenth"] / 100}),
        parts=MappingProxyType(parts),
        per_keypoint=MappingProxyType(per_joint),
        num_persons=truth.num_persons,
    )


def _percent_correct(
    pred: np.ndarray, truth: PckhGroundTruth, *, threshold: float, head_size_factor: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({"main": [K] percent correct per joint at `threshold`, "tenth": the same at 0.1}, [K] visible persons per
    joint), in the reference's arithmetic: percentages (100 x correct / visible), the 0.1 table stored in float32."""
    visible = ~truth.missing
    head = np.linalg.norm(truth.head_boxes[:, 1] - truth.head_boxes[:, 0], axis=-1) * head_size_factor
    count = visible.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.linalg.norm(pred.astype(np.float64) - truth.joints, axis=-1) / head[:, None]
        pct = {
            key: 100.0 * ((scaled <= t) & visible).sum(axis=0) / count
            for key, t in (("main", threshold), ("tenth", TENTH))
        }
    pct["tenth"] = pct["tenth"].astype(np.float32).astype(np.float64)
    return pct, count


def _fraction(percent: float) -> float | None:
    return None if math.isnan(percent) else float(percent) / 100


def score_pckh(
    predictions: Any, *, evaluator: PckhEvaluator, gt: Any, schema: KeypointSchema, backend: ScoringBackend
) -> dict[str, Any]:
    """The score of kind `pckh` (harness.metrics.evaluators.pckh): `gt` is the .mat's path or a PckhGroundTruth (the
    engine passes the persons of the run's images)."""
    result = evaluate_pckh(
        predictions,
        gt,
        threshold=evaluator.threshold,
        head_size_factor=evaluator.head_size_factor,
        keypoint_names=schema.keypoints,
    )
    return {
        "metrics": dict(result.metrics),
        "extra_metrics": dict(result.parts),
        "per_keypoint": {k: dict(v) for k, v in result.per_keypoint.items()},
        "counts": {"instances": result.num_persons},
        # PCKh has one implementation (this module); a "fast" request runs it too.
        "scoring": {"requested": backend, "backend": "library"},
    }
