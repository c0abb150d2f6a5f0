"""Loading and validating predictions and annotations before any scorer sees them.

Predictions use the COCO results format (PROTOCOLS.md §5): a list of
`{"image_id", "category_id", "keypoints": [x, y, score] * K, "score"}`; extra fields are allowed and ignored by the
COCO-style scorer (top-down writers add center/scale, bbox_id). Every check collects all offending items before
raising, so one run reports every problem.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson

from harness.errors import DataError, PredictionError
from harness.gc_paused import gc_paused
from harness.metrics.ground_truth import check_structure, source_of

#: How many offending items an error message lists before summarising the rest.
_SHOW = 10


def _listing(items: Sequence[Any]) -> str:
    shown = ", ".join(str(i) for i in items[:_SHOW])
    more = f" (and {len(items) - _SHOW} more)" if len(items) > _SHOW else ""
    return shown + more


def _read(path: str | os.PathLike[str], *, what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{what} file {str(p)!r} does not exist; check the path.") from exc


def parse_json(data: bytes, *, path: str | os.PathLike[str], what: str) -> Any:
    """JSON text -> Python objects. orjson reads the same values as the json module (every float the very same
    double; tests/harness/metrics/test_prediction_reading.py) ~2x faster; what it refuses (NaN / Infinity literals,
    integers beyond 64 bits, malformed text) goes to the json module, which accepts the former (validation then
    names them) and words the error for the latter."""
    with gc_paused():
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(data.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{what} file {str(path)!r} is not valid JSON: {exc}.") from exc


def load_json(path: str | os.PathLike[str], *, what: str) -> Any:
    """Parse a JSON file; a missing or malformed file raises DataError naming the path."""
    return parse_json(_read(path, what=what), path=path, what=what)


class _Result(msgspec.Struct):
    """One COCO result as the typed decoder reads it: only the fields COCO-style scoring uses (others skipped
    unread). int rejects floats and booleans, float rejects booleans and strings (ints are read as floats, as
    float(v) does), and a `category_id` that is present must be an integer (null is not "missing")."""

    image_id: int
    keypoints: list[float]
    score: float
    category_id: int | msgspec.UnsetType = msgspec.UNSET


_RESULTS = msgspec.json.Decoder(list[_Result])


@dataclass(frozen=True)
class PredictionColumns:
    """Predictions as columns (N each): image ids, category ids (None where absent), flat keypoints, scores."""

    image_ids: list[Any]
    category_ids: list[Any]
    keypoints: list[Sequence[Any]]
    scores: list[Any]


def decode_prediction_file(path: str | os.PathLike[str]) -> PredictionColumns | None:
    """A COCO results file decoded by type straight into columns (msgspec: ~6x faster than json.load into dicts on
    a 100k-result file, and it type-checks while it parses); None when the file is anything else than a list of
    objects with integer ids, numeric keypoints and a numeric score: `load_predictions` then reads it as dicts and
    validation says what is wrong. A missing file raises DataError."""
    data = _read(path, what="predictions")
    with gc_paused():
        try:
            results = _RESULTS.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if not results:
            return None  # load_predictions names the empty file
        unset = msgspec.UNSET
        return PredictionColumns(
            image_ids=[r.image_id for r in results],
            category_ids=[None if r.category_id is unset else r.category_id for r in results],
            keypoints=[r.keypoints for r in results],
            scores=[r.score for r in results],
        )


def load_ground_truth(gt: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """A COCO-style annotation dict (a fresh copy when given a dict is the caller's job); checks the top-level keys."""
    data = load_json(gt, what="annotation") if isinstance(gt, (str, os.PathLike)) else gt
    if not isinstance(data, Mapping):
        raise DataError(
            f"annotations must be a JSON object with 'images' and 'annotations', got {type(data).__name__}."
        )
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise DataError(f"annotations lack the COCO key(s) {missing}; pass a COCO-style keypoint annotation file.")
    check_structure(data, source_of(gt))  # the fields: ground_truth.check_ground_truth, once K is known
    return dict(data)


def load_predictions(predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str]) -> list[Mapping[str, Any]]:
    """Predictions from a COCO results file (a JSON list) or an in-memory list."""
    data = load_json(predictions, what="predictions") if isinstance(predictions, (str, os.PathLike)) else predictions
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise PredictionError(
            f"predictions must be a list of COCO results ({{image_id, category_id, keypoints, score}}), "
            f"got {type(data).__name__}."
        )
    bad = [i for i, p in enumerate(data) if not isinstance(p, Mapping)]
    if bad:
        raise PredictionError(f"predictions at positions {_listing(bad)} are not JSON objects.")
    if not data and isinstance(predictions, (str, os.PathLike)):
        # A file of no results scores 0 everywhere: far more often a failed export than a model that found nobody.
        raise PredictionError(
            f"{predictions} holds an empty list: there are no predictions to score. Check the program that wrote it."
        )
    return list(data)


def num_keypoints_of(gt: Mapping[str, Any]) -> int:
    """K of a COCO-style annotation dict: from the first category's `keypoints` names, else the first annotation."""
    cats = gt.get("categories") or []
    if cats and isinstance(cats[0], Mapping) and cats[0].get("keypoints"):
        return len(cats[0]["keypoints"])
    for ann in gt.get("annotations", []):
        if ann.get("keypoints"):
            return len(ann["keypoints"]) // 3
    raise DataError(
        "cannot tell the keypoint count: the annotations have neither category keypoint names nor keypoints."
    )


def _is_number(v: Any) -> bool:
    """Python or numpy real numbers (np.float32 included), not bools."""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _known(image_id: Any, image_ids: set[Any]) -> bool:
    try:
        return image_id in image_ids
    except TypeError:  # unhashable (a list, a dict)
        return False


def validate_predictions(
    predictions: Sequence[Mapping[str, Any]],
    gt: Mapping[str, Any],
    *,
    num_keypoints: int,
    require_score: bool = True,
) -> list[dict[str, Any]]:
    """Check predictions against the annotations; return fresh dicts (inputs are never mutated).

    A missing `category_id` is filled with the annotation file's only category (an error when it has several).
    Raises PredictionError listing every unknown image id, every wrong keypoint length (naming the expected K) and
    every non-finite number.
    """
    image_ids = {img["id"] for img in gt["images"]}
    cat_ids = [c["id"] for c in gt["categories"]]
    unknown_images: list[Any] = []
    bad_length: list[str] = []
    non_finite: list[int] = []
    bad_category: list[str] = []
    out: list[dict[str, Any]] = []
    for i, p in enumerate(predictions):
        q = dict(p)
        if "image_id" not in q or not _known(q["image_id"], image_ids):
            unknown_images.append(q.get("image_id", "<missing>"))
        if isinstance(q.get("keypoints"), np.ndarray):
            q["keypoints"] = q["keypoints"].ravel().tolist()
        kpts = q.get("keypoints")
        if not isinstance(kpts, Sequence) or isinstance(kpts, (str, bytes)) or len(kpts) != 3 * num_keypoints:
            n = len(kpts) if isinstance(kpts, Sequence) else "no"
            bad_length.append(f"#{i} ({n} values)")
        elif not all(_is_number(v) and math.isfinite(v) for v in kpts):
            non_finite.append(i)
        if require_score and not (_is_number(q.get("score")) and math.isfinite(q["score"])):
            non_finite.append(i)
        if "category_id" not in q:
            if len(cat_ids) == 1:
                q["category_id"] = cat_ids[0]
            else:
                bad_category.append(f"#{i} (missing)")
        elif q["category_id"] not in cat_ids:
            bad_category.append(f"#{i} ({q['category_id']!r})")
        out.append(q)
    problems = []
    strings = [v for v in unknown_images if isinstance(v, str)]
    if strings:
        problems_ids = _listing(sorted(set(map(repr, strings))))
        raise PredictionError(
            f"{len(strings)} prediction(s) give image_id as a string ({problems_ids}); image ids are integers as in "
            "the annotation file: write them as numbers"
        )
    if unknown_images:
        uniq = sorted(set(map(str, unknown_images)))
        problems.append(
            f"{len(unknown_images)} prediction(s) name image ids that are not in the annotations: {_listing(uniq)}; "
            "score against the annotation file the predictions were made for"
        )
    if bad_length:
        problems.append(
            f"keypoints must hold 3*K = {3 * num_keypoints} values (K = {num_keypoints} keypoints of the "
            f"annotations), but predictions {_listing(bad_length)} do not; the checkpoint's keypoint count does "
            "not match the annotations"
        )
    if non_finite:
        problems.append(
            f"predictions {_listing(sorted(set(non_finite)))} hold a missing score or a non-finite (NaN/inf) or "
            "non-numeric value; fix the model output or drop those predictions"
        )
    if bad_category:
        problems.append(
            f"predictions {_listing(bad_category)} have a category_id not among the annotations' {cat_ids}; "
            "use the annotations' category id (1 for every dataset here)"
        )
    if problems:
        raise PredictionError("invalid predictions:\n" + "\n".join(f"  - {p}" for p in problems))
    return out
