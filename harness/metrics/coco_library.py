"""The library adapter of COCO-style keypoint AP/AR: a quiet wrapper over xtcocotools / pycocotools that returns
named metrics (coco.py dispatches here for `backend="library"`, and fast_coco.py for inputs it does not model).

The library named by the protocol (`Evaluator.library`) is the evaluator of record (DESIGN.md principle 6); this
module only prepares its inputs, silences it and names its outputs. Semantics (PROTOCOLS.md §5):

- OKS area: GT `area` when `use_area`, else 0.53 * GT bbox w*h, which is also what the area-range filter
  (medium/large) then uses (PROTOCOLS.md §8 item 2, AIC). xtcocotools does this itself; for pycocotools the adapter
  writes `area = w * h * 0.53` into a copy of the GT (the same float operations, so the numbers are identical).
- Annotations without `iscrowd` (AIC) count as non-crowd: xtcocotools fills `iscrowd = False` when it loads them;
  the pycocotools path fills 0 the same way. pycocotools also needs `num_keypoints`; where absent it is the count
  of joints with v > 0 (what xtcocotools uses anyway).
- xtcocotools drops a prediction whose keypoint scores are all exactly 0; pycocotools keeps it.
- Ignored GT: crowd, or no labelled joint (xtcocotools counts v > 0; pycocotools reads `num_keypoints`).
- maxDets 20, OKS thresholds .50:.05:.95, 101 recall points, score sort by mergesort (stable, PROTOCOLS.md §8 item 14).

A metric is -1.0 where the library reports "no ground truth" (for instance APm when no GT is medium-sized).

Per-keypoint breakdown. For joint k, AP_k / AR_k are the same COCO evaluation (same library, matching, thresholds,
maxDets, instance scores and OKS area) run on GT and predictions reduced to joint k alone, with sigma_k. Thus OKS_k
= exp(-d_k^2 / (2 * (2 sigma_k)^2 * A)), every GT whose joint k is unlabelled (v_k = 0) is ignored, a prediction
matched to such an ignored GT is ignored (the library's box-distance rule: a prediction of joint k inside that GT's
box grown by its own width / height on every side matches it with OKS 1), and under xtcocotools a prediction whose
joint-k score is exactly 0 is dropped. A prediction of joint k far outside the box of an instance that lacks joint k
(e.g. a pose copied from GT with unlabelled joints at (0, 0)) therefore counts as a false positive for joint k. Only
the `all` area range is evaluated per joint (a third of the cost); K extra evaluations in all (`per_keypoint=False`
skips them).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.environment import import_coco_api
from harness.metrics._predictions import load_ground_truth, load_predictions, validate_predictions
from harness.metrics.coco_common import STAT_NAMES, CocoMetrics, check_inputs, check_library, mean_valid
from harness.metrics.ground_truth import source_of
from zoo.registry.schema import CocoLibrary


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow the libraries' progress printing and warnings (they print on stdout)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _coco_classes(library: str) -> tuple[type, type]:
    check_library(library)
    # Through the install check: a numpy-1 build of xtcocotools under numpy 2 becomes one InstallError naming the
    # command that fixes it, not a traceback from _mask.pyx (issue #16).
    return import_coco_api(library)


def _gt_api(library: str, gt: Mapping[str, Any], *, use_area: bool) -> Any:
    """The library's COCO object over a private copy of `gt` (the libraries mutate what they are given)."""
    coco_cls, _ = _coco_classes(library)
    data = copy.deepcopy(dict(gt))
    if library == "xtcocotools":
        # xtcocotools' own loader fills iscrowd=False where it is missing (AIC): use it, it is the reference.
        return coco_cls(annotation_file="<in-memory annotations>", ann_data=data)
    for ann in data["annotations"]:
        ann.setdefault("iscrowd", 0)
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann["keypoints"])[2::3] > 0))
        if not use_area:
            # PROTOCOLS.md §8 item 2: same float operations as xtcocotools (w * h * 0.53) for OKS and area ranges.
            ann["area"] = ann["bbox"][2] * ann["bbox"][3] * 0.53
    api = coco_cls()
    api.dataset = data
    api.createIndex()
    return api


def _dt_api(library: str, coco_gt: Any, predictions: list[dict[str, Any]]) -> Any:
    coco_cls, _ = _coco_classes(library)
    if predictions:
        return coco_gt.loadRes(predictions)
    # Both libraries index anns[0] in loadRes; an empty result set is built directly.
    api = coco_cls()
    api.dataset = {
        "images": list(coco_gt.dataset["images"]),
        "categories": copy.deepcopy(coco_gt.dataset["categories"]),
        "annotations": [],
    }
    api.createIndex()
    return api


def _run(
    library: str,
    gt: Mapping[str, Any],
    predictions: list[dict[str, Any]],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    all_area_only: bool = False,
) -> Any:
    """Evaluate and accumulate; returns the COCOeval object."""
    _, eval_cls = _coco_classes(library)
    coco_gt = _gt_api(library, gt, use_area=use_area)
    coco_dt = _dt_api(library, coco_gt, predictions)
    sig = np.array(sigmas, dtype=np.float64)
    if library == "xtcocotools":
        ev = eval_cls(coco_gt, coco_dt, "keypoints", sig, use_area)
    else:
        # pycocotools reads sigmas from params and has no use_area switch (the GT copy carries the area).
        ev = eval_cls(coco_gt, coco_dt, "keypoints")
        ev.params.kpt_oks_sigmas = sig
    ev.params.useSegm = None
    if all_area_only:
        ev.params.areaRng = [ev.params.areaRng[0]]
        ev.params.areaRngLbl = ["all"]
    ev.evaluate()
    ev.accumulate()
    return ev


def _single_joint(
    gt: Mapping[str, Any], predictions: list[dict[str, Any]], k: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """GT and predictions reduced to joint k (segmentations dropped: keypoint evaluation never reads them)."""
    anns = []
    for ann in gt["annotations"]:
        a = {key: v for key, v in ann.items() if key != "segmentation"}
        a["keypoints"] = list(ann["keypoints"][3 * k : 3 * k + 3])
        a["num_keypoints"] = int(a["keypoints"][2] > 0)
        anns.append(a)
    cats = [{key: v for key, v in c.items() if key not in ("keypoints", "skeleton")} for c in gt["categories"]]
    gt_k = {"images": gt["images"], "categories": cats, "annotations": anns}
    preds_k = [{**p, "keypoints": list(p["keypoints"][3 * k : 3 * k + 3])} for p in predictions]
    return gt_k, preds_k


def _per_keypoint(
    library: str,
    gt: Mapping[str, Any],
    predictions: list[dict[str, Any]],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    names: Sequence[str],
) -> dict[str, Mapping[str, float]]:
    out: dict[str, Mapping[str, float]] = {}
    for k, name in enumerate(names):
        gt_k, preds_k = _single_joint(gt, predictions, k)
        ev = _run(library, gt_k, preds_k, sigmas=[sigmas[k]], use_area=use_area, all_area_only=True)
        # precision: [T, R, K, A, M], recall: [T, K, A, M]; one area range and one maxDets here.
        ap = mean_valid(ev.eval["precision"][:, :, :, 0, 0])
        ar = mean_valid(ev.eval["recall"][:, :, 0, 0])
        out[name] = MappingProxyType({"AP": ap, "AR": ar})
    return out


def evaluate_with_library(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: CocoLibrary = "xtcocotools",
    keypoint_names: Sequence[str] | None = None,
    per_keypoint: bool = True,
) -> CocoMetrics:
    """COCO keypoint AP/AR of `predictions` against `gt`, computed by the given library (PROTOCOLS.md §5).

    predictions: COCO results (list of {image_id, category_id, keypoints [x, y, score] * K, score}) or a JSON path.
    gt: COCO-style annotation dict or path. Neither is mutated.
    sigmas: [K] OKS sigmas. use_area: False -> OKS area 0.53 * bbox w*h (AIC).
    keypoint_names: [K] names for `per_keypoint` (default: the annotation category's names).
    Raises PredictionError for unknown image ids, keypoints of the wrong length, non-finite values;
    DataError for annotations that cannot be scored.
    """
    check_library(library)
    gt_data = load_ground_truth(gt)
    preds = load_predictions(predictions)
    k, names = check_inputs(
        gt_data, sigmas=sigmas, use_area=use_area, keypoint_names=keypoint_names, source=source_of(gt)
    )
    checked = validate_predictions(preds, gt_data, num_keypoints=k)
    # Only the fields the libraries read: an extra `bbox` would send loadRes down its box branch (other dt areas).
    clean = [
        {"image_id": p["image_id"], "category_id": p["category_id"], "keypoints": [float(v) for v in p["keypoints"]],
         "score": float(p["score"])}
        for p in checked
    ]  # fmt: skip
    with _quiet():
        ev = _run(library, gt_data, clean, sigmas=sigmas, use_area=use_area)
        ev.summarize()
        metrics = {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}
        joints = (
            _per_keypoint(library, gt_data, clean, sigmas=sigmas, use_area=use_area, names=names)
            if per_keypoint
            else {}
        )
    dropped = 0
    if library == "xtcocotools":
        dropped = sum(1 for p in clean if not any(s > 0 for s in p["keypoints"][2::3]))
    return CocoMetrics(
        metrics=MappingProxyType(metrics),
        per_keypoint=MappingProxyType(joints),
        library=library,
        use_area=use_area,
        num_predictions=len(clean),
        num_dropped_zero_score=dropped,
        num_images=len(gt_data["images"]),
        sigmas=tuple(float(s) for s in sigmas),
    )
