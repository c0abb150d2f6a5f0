"""CrowdPose scoring: xtcocotools' `keypoints_crowd` evaluation, called as MMPose 0.29 calls it (PROTOCOLS.md §5
"CrowdPose"). One self-contained evaluator kind, `crowdpose_keypoints` (record: zoo.evaluators.crowdpose_keypoints;
scorer plug-in: harness.metrics.evaluators.crowdpose_keypoints).

What differs from COCO-style scoring (coco_library.py), all decided inside the library, which is the evaluator of
record (DESIGN.md principle 6); this module only checks its inputs, silences it and names its outputs:

- a GT instance is ignored when its `num_keypoints` is 0 (read from the file, not counted from the labels) or it is a
  crowd; OKS and the area ranges use 0.53 * GT box w * h (use_area False, the only way MMPose calls it);
- nine stats: AP, AP50, AP75, AR, AR50, AR75 over all images (maxDets 20), then AP of the easy, medium and hard
  images, split by the image's `crowdIndex` (< 0.2, < 0.8, the rest); each bin's AP is the plain mean of its
  precision array, rounded by the library to 4 decimals, and -1 for an empty bin;
- the library reads the bins from the annotation *file* (`COCOeval.anno_file`), so the images' ids and crowd indices
  are written to a temporary JSON for it;
- MMPose answers an empty result list with 0 for every stat without calling the library; so does this module.

Public: KIND, STAT_NAMES, FIELDS_READ, check_crowd_index, check_crowd_ground_truth, evaluate_crowdpose, score_crowdpose.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.environment import import_coco_api
from harness.errors import DataError
from harness.metrics._predictions import load_ground_truth, load_predictions, num_keypoints_of, validate_predictions
from harness.metrics.coco_common import oks_sigmas
from harness.metrics.ground_truth import CROWD_FIELDS_READ, FIX, check_ground_truth, shown, source_of
from zoo.evaluators.crowdpose_keypoints import CrowdPoseEvaluator
from zoo.registry.schema import KeypointSchema, ScoringBackend

KIND = "crowdpose_keypoints"
#: Our names of the nine stats, in the order `COCOeval.stats` holds them for `keypoints_crowd` (MMPose 0.29 calls them
#: 'AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75', 'AP(E)', 'AP(M)', 'AP(H)').
STAT_NAMES = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)", "AP(H)")
#: Annotation fields `keypoints_crowd` reads from every annotation (num_keypoints decides the ignore rule).
FIELDS_READ = CROWD_FIELDS_READ
#: The metrics a row may document (zoo.evaluators.crowdpose_keypoints.METRICS); AR75 goes to extra_metrics.
_EXTRA = ("AR75",)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The library prints its progress and per-bin table on stdout."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def check_crowd_index(gt: Mapping[str, Any], *, source: str) -> None:
    """DataError naming the first image without a finite numeric `crowdIndex` (the library sorts images into bins by
    it: a missing one is a KeyError there, a NaN lands silently in the hard bin)."""
    for i, img in enumerate(gt.get("images") or []):
        if not isinstance(img, Mapping):
            continue  # check_structure names it
        value = img.get("crowdIndex")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            continue
        what = f"'crowdIndex' {shown(value)}" if "crowdIndex" in img else "no 'crowdIndex'"
        raise DataError(
            f"{source}: images[{i}] (id {img.get('id')}) has {what}, expected a finite number (CrowdPose's crowd "
            f"index, which puts the image in the easy, medium or hard bin); {FIX}"
        )


def check_crowd_ground_truth(gt: Mapping[str, Any], *, num_keypoints: int, source: str) -> None:
    """DataError naming the first offender unless every annotation has the fields `keypoints_crowd` reads, each valid
    (harness.metrics.ground_truth), and every image its crowd index."""
    check_ground_truth(gt, num_keypoints=num_keypoints, source=source, required=FIELDS_READ)
    check_crowd_index(gt, source=source)


def _run_library(gt: dict[str, Any], predictions: list[dict[str, Any]], sigmas: Sequence[float]) -> list[float]:
    coco_cls, eval_cls = import_coco_api("xtcocotools")
    with tempfile.TemporaryDirectory(prefix="hrnet-zoo-crowdpose-") as tmp:
        # Only `images` (id, crowdIndex) is read back from this file, by COCOeval.split.
        path = Path(tmp) / "crowd_index.json"
        images = [{"id": img["id"], "crowdIndex": img["crowdIndex"]} for img in gt["images"]]
        path.write_text(json.dumps({"images": images}), encoding="utf-8")
        with _quiet():
            coco_gt = coco_cls(annotation_file=str(path), ann_data=copy.deepcopy(gt))
            coco_dt = coco_gt.loadRes(predictions)
            ev = eval_cls(coco_gt, coco_dt, "keypoints_crowd", np.array(sigmas, dtype=np.float64), use_area=False)
            ev.params.useSegm = None
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
    return [float(v) for v in ev.stats]


def evaluate_crowdpose(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    sigmas: Sequence[float],
) -> dict[str, Any]:
    """{"metrics": {STAT_NAMES: value}, "num_predictions", "num_dropped_zero_score", "num_images"} of COCO-results
    predictions against CrowdPose annotations (a dict or a JSON path; neither is mutated). Raises PredictionError /
    DataError naming what is wrong in either."""
    source = source_of(gt)
    gt_data = load_ground_truth(gt)
    preds = load_predictions(predictions)
    k = num_keypoints_of(gt_data)
    if len(sigmas) != k:
        raise DataError(f"{len(sigmas)} OKS sigmas given for annotations with K = {k} keypoints; use that schema's.")
    check_crowd_ground_truth(gt_data, num_keypoints=k, source=source)
    checked = validate_predictions(preds, gt_data, num_keypoints=k)
    # Only the fields the library reads: an extra `bbox` would send loadRes down its box branch.
    clean = [
        {"image_id": p["image_id"], "category_id": p["category_id"], "keypoints": [float(v) for v in p["keypoints"]],
         "score": float(p["score"])}
        for p in checked
    ]  # fmt: skip
    # MMPose 0.29 returns 0 for every stat when the result file is empty (bottom_up_crowdpose.py:89-93).
    stats = _run_library(gt_data, clean, sigmas) if clean else [0.0] * len(STAT_NAMES)
    return {
        "metrics": dict(zip(STAT_NAMES, stats, strict=True)),
        "num_predictions": len(clean),
        "num_dropped_zero_score": sum(1 for p in clean if not any(s > 0 for s in p["keypoints"][2::3])),
        "num_images": len(gt_data["images"]),
    }


def score_crowdpose(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    evaluator: CrowdPoseEvaluator,
    gt: Mapping[str, Any] | str | os.PathLike[str],
    schema: KeypointSchema,
    sigmas: Sequence[float] | None = None,
    backend: ScoringBackend = "library",
) -> dict[str, Any]:
    """The scorer of kind `crowdpose_keypoints`, in the shape harness.metrics.evaluators.score returns (without
    "evaluator", which `score` adds): metrics (zoo.evaluators.crowdpose_keypoints.METRICS), extra_metrics (AR75),
    counts, scoring. There is no per-keypoint breakdown and no fast path: a "fast" request runs the library and says
    so."""
    sigmas = oks_sigmas(sigmas, evaluator=evaluator, schema=schema, scoring="CrowdPose scoring")
    result = evaluate_crowdpose(predictions, gt, sigmas=sigmas)
    metrics = result["metrics"]
    return {
        "metrics": {k: v for k, v in metrics.items() if k not in _EXTRA},
        "extra_metrics": {k: metrics[k] for k in _EXTRA},
        "per_keypoint": {},
        "counts": {
            "predictions": result["num_predictions"],
            "dropped_zero_score": result["num_dropped_zero_score"],
            "images": result["num_images"],
        },
        "scoring": {"requested": backend, "backend": "library"},
    }
