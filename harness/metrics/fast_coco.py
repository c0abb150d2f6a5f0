"""Vectorised COCO keypoint evaluation, bit-identical to xtcocotools / pycocotools COCOeval (iouType keypoints).

The library stays the evaluator of record (DESIGN.md principle 6): this is a faster path that is only used where it is
proven equal, by tests/harness/metrics/test_fast_coco.py on every test run (many seeded cases, both semantics, values
compared with ==) and, optionally, on the very input at hand (`self_check=True` also runs the library and raises
`FastPathMismatchError` on any difference). Inputs it does not model (non-integer or duplicate ids) go to the library.

The semantics and the vectorised core (evaluate, accumulate, summarize on arrays) are in fast_core.py. This module
reads the inputs (a predictions file straight into arrays with a typed JSON decoder, _predictions.py), decides
what the core models, and computes the per-joint breakdown in the same pass as the metrics (each joint scored as a
category of its own: `fast_core.joints_as_categories`).
"""

from __future__ import annotations

import itertools
import numbers
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import FastPathMismatchError
from harness.metrics._predictions import (
    PredictionColumns,
    decode_prediction_file,
    load_ground_truth,
    load_predictions,
    validate_predictions,
)
from harness.metrics.coco_common import STAT_NAMES, CocoMetrics, check_inputs, check_library, mean_valid
from harness.metrics.coco_library import evaluate_with_library
from harness.metrics.fast_core import (
    GroundTruthArrays,
    _int_ids,
    _UnsupportedError,
    evaluate_arrays,
    ground_truth_arrays,
    joints_as_categories,
    summarize,
)
from harness.metrics.ground_truth import source_of
from zoo.registry.schema import CocoLibrary


def _is_real(t: type) -> bool:
    return issubclass(t, numbers.Real) and not issubclass(t, (bool, np.bool_))


def _columns(preds: Sequence[Mapping[str, Any]]) -> PredictionColumns:
    """The columns of in-memory predictions; _UnsupportedError for anything validate_predictions would reject or
    rewrite (the typed file decoder, `decode_prediction_file`, makes the same checks while parsing)."""
    if not all(issubclass(t, Mapping) for t in set(map(type, preds))):
        raise _UnsupportedError("not mappings")
    kps = [p.get("keypoints") for p in preds]
    if not all(type(v) in (list, tuple) for v in kps):
        raise _UnsupportedError("keypoint containers")
    scores = [p.get("score") for p in preds]
    if not all(_is_real(t) for t in set(map(type, itertools.chain(scores, *kps)))):
        raise _UnsupportedError("non-numeric values")
    images = [p.get("image_id") for p in preds]
    return PredictionColumns(images, [p.get("category_id") for p in preds], kps, scores)


def _prediction_arrays(cols: PredictionColumns, gta: GroundTruthArrays, k: int):
    """(image index, category index, keypoints [N, K, 3], scores) of clean prediction columns; _UnsupportedError
    otherwise (wrong keypoint counts, non-finite values, non-integer or unknown ids: validate_predictions and the
    library decide those)."""
    n = len(cols.scores)
    if set(map(len, cols.keypoints)) - {3 * k}:
        raise _UnsupportedError("keypoint counts")
    keypoints = np.asarray(cols.keypoints, dtype=np.float64).reshape(n, k, 3)
    scores = np.asarray(cols.scores, dtype=np.float64).reshape(n)
    if not (np.isfinite(keypoints).all() and np.isfinite(scores).all()):
        raise _UnsupportedError("non-finite values")
    image = _int_ids(cols.image_ids, "image ids")
    if len(gta.category_ids) == 1:  # validate_predictions fills a missing category_id with the only one
        only = int(gta.category_ids[0])
        category = _int_ids([only if c is None else c for c in cols.category_ids], "category ids")
    else:
        category = _int_ids(cols.category_ids, "category ids")  # None (missing) is not an integer: validation
    ii = np.searchsorted(gta.image_ids, image)
    ci = np.searchsorted(gta.category_ids, category)
    if n and (ii.max() >= len(gta.image_ids) or ci.max() >= len(gta.category_ids)):
        raise _UnsupportedError("unknown ids")
    if not (np.array_equal(gta.image_ids[ii], image) and np.array_equal(gta.category_ids[ci], category)):
        raise _UnsupportedError("unknown ids")
    return ii, ci, keypoints, scores


def _compare(ours: CocoMetrics, ref: CocoMetrics) -> list[str]:
    diffs = [f"{n}: fast {ours.metrics[n]!r} != library {ref.metrics[n]!r}"
             for n in STAT_NAMES if ours.metrics[n] != ref.metrics[n]]  # fmt: skip
    for joint, vals in ref.per_keypoint.items():
        diffs += [f"{joint} {m}: fast {ours.per_keypoint[joint][m]!r} != library {v!r}"
                  for m, v in vals.items() if ours.per_keypoint[joint][m] != v]  # fmt: skip
    for f in ("num_predictions", "num_dropped_zero_score", "num_images"):  # not `backend`: it differs by design
        if getattr(ours, f) != getattr(ref, f):
            diffs.append(f"{f}: fast {getattr(ours, f)} != library {getattr(ref, f)}")
    return diffs


def evaluate_coco_keypoints_fast(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: CocoLibrary = "xtcocotools",
    keypoint_names: Sequence[str] | None = None,
    per_keypoint: bool = True,
    self_check: bool = False,
) -> CocoMetrics:
    """`coco_library.evaluate_with_library` (same arguments, same CocoMetrics, same errors), computed here.

    The numbers equal the library's bit for bit (module docstring). Inputs the fast path does not model (non-integer
    or duplicate ids) are scored by the library itself. self_check=True also runs the library and raises
    FastPathMismatchError naming every differing value (to prove a new kind of input; it costs the library's time).
    """
    check_library(library)
    gt_data = load_ground_truth(gt)
    # A file goes straight to columns through the typed decoder; what it refuses is read as dicts below.
    cols = decode_prediction_file(predictions) if isinstance(predictions, (str, os.PathLike)) else None
    preds = load_predictions(predictions) if cols is None else None
    k, names = check_inputs(
        gt_data, sigmas=sigmas, use_area=use_area, keypoint_names=keypoint_names, source=source_of(gt)
    )
    args = dict(sigmas=sigmas, use_area=use_area, library=library, keypoint_names=names, per_keypoint=per_keypoint)
    try:
        gta = ground_truth_arrays(gt_data, use_area=use_area, library=library, num_keypoints=k)
        try:
            arrays = _prediction_arrays(cols if cols is not None else _columns(preds), gta, k)
        except _UnsupportedError:  # the reference validator raises the project's errors or normalises the input
            preds = load_predictions(predictions) if preds is None else preds
            arrays = _prediction_arrays(_columns(validate_predictions(preds, gt_data, num_keypoints=k)), gta, k)
    except _UnsupportedError:
        return evaluate_with_library(predictions if preds is None else preds, gt_data, **args)
    ours = evaluate_keypoint_arrays(gta, *arrays, **args, num_images=len(gt_data["images"]))
    if self_check:
        diffs = _compare(ours, evaluate_with_library(predictions if preds is None else preds, gt_data, **args))
        if diffs:
            raise FastPathMismatchError("the fast COCO evaluator differs from the library:\n  " + "\n  ".join(diffs))
    return ours


def evaluate_keypoint_arrays(
    gta: GroundTruthArrays,
    image: np.ndarray,
    category: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: str,
    keypoint_names: Sequence[str],
    per_keypoint: bool,
    num_images: int,
) -> CocoMetrics:
    """CocoMetrics of clean prediction arrays (image/category: [N] indices into gta's ids; keypoints [N, K, 3])."""
    sig = [float(s) for s in sigmas]
    precision, recall = evaluate_arrays(
        gta, image=image, category=category, keypoints=keypoints, scores=scores, sigmas=sig, library=library
    )
    joints: dict[str, Mapping[str, float]] = {}
    if per_keypoint:
        c = len(gta.category_ids)
        by_joint, kw = joints_as_categories(gta, image, category, keypoints, scores, sig)
        p, r = evaluate_arrays(by_joint, **kw, library=library)
        for j, name in enumerate(keypoint_names):
            cats = slice(j * c, (j + 1) * c)  # joint j's categories
            ap, ar = mean_valid(p[:, :, cats, 0, 0]), mean_valid(r[:, cats, 0, 0])
            joints[name] = MappingProxyType({"AP": ap, "AR": ar})
    dropped = int(np.count_nonzero(~(keypoints[:, :, 2] > 0).any(axis=1))) if library == "xtcocotools" else 0
    return CocoMetrics(
        metrics=MappingProxyType(summarize(precision, recall)),
        per_keypoint=MappingProxyType(joints),
        library=library,
        use_area=use_area,
        num_predictions=len(scores),
        num_dropped_zero_score=dropped,
        num_images=num_images,
        sigmas=tuple(sig),
        backend="fast",
    )
