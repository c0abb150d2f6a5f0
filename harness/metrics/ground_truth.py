"""Ground truth checked field by field before a metric or a GT loader reads it (issue 22, case 7).

The COCO evaluators do not fail on a malformed value, they move AP: a NaN `area` makes OKS NaN and the person
matches nothing, a negative box side gives a negative OKS area (OKS above 1), an `iscrowd` of "no" is truthy and
turns the person into a crowd, a NaN `num_keypoints` is not 0 and keeps a person pycocotools would ignore. So every
field any of them reads is checked here, once: by the engine before a run (harness.data.annotations
.validate_ground_truth, before hours of inference) and by every scorer (coco_common.check_inputs, pck), so that
`score` of a file and `evaluate` of a split refuse the same annotations with the same words.

A field is checked where it is present; which fields must be present is the caller's (`required`): COCO-style
scoring reads `keypoints` and `bbox` of every annotation, and `area` when the evaluator uses it; PCK reads
`keypoints` and `bbox`. The rules accept every value the real files hold (integral floats such as 425.0 included)
and nothing the evaluators would read differently from what the file means.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import DataError
from zoo.registry.schema import Evaluator

#: What every message ends with: the data is wrong, not the harness.
FIX = "fix or re-convert the annotation file"


def _real(v: Any) -> bool:
    t = type(v)
    if t is float or t is int:  # what JSON gives: skip the (slow) abstract-class check
        return True
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    if type(v) is float:
        return math.isfinite(v)
    try:
        return _real(v) and math.isfinite(float(v))
    except OverflowError:  # an integer beyond float range: every reader converts it to float
        return False


def _real_type(t: type) -> bool:
    return issubclass(t, numbers.Real) and not issubclass(t, bool)


def _whole(v: Any) -> bool:
    if type(v) is int:
        return -(2**63) <= v < 2**63  # beyond int64 no reader keeps it whole
    return _finite(v) and float(v).is_integer()


def _box(v: Any) -> bool:
    return (
        isinstance(v, Sequence)
        and not isinstance(v, str)
        and len(v) == 4
        and all(_finite(x) for x in v)
        and v[2] >= 0
        and v[3] >= 0
    )


#: field -> (is the value valid, what it must be). Annotation fields, then image fields.
ANNOTATION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "area": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "bbox": (_box, "4 finite numbers [x, y, w, h] with w, h >= 0"),
    # bool is allowed: xtcocotools' own loader fills iscrowd=False where it is missing
    "iscrowd": (lambda v: (isinstance(v, bool) or _whole(v)) and v in (0, 1), "0 or 1"),
    "num_keypoints": (lambda v: _whole(v) and v >= 0, "a whole number >= 0 (the count of labelled keypoints)"),
}
IMAGE_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "width": (lambda v: _whole(v) and v > 0, "a whole number > 0 (pixels)"),
    "height": (lambda v: _whole(v) and v > 0, "a whole number > 0 (pixels)"),
}
#: Required fields whose absence needs more than "add it".
_ABSENT_HINT = {"area": "files without 'area' (AIC) are scored with use_area=False (PROTOCOLS.md §5)"}


def coco_fields_read(use_area: bool) -> tuple[str, ...]:
    """The fields COCO-style OKS reads from every annotation: keypoints, the box (the region of a GT without labelled
    joints; 0.53 * w * h when not use_area), the category (the evaluators index by it) and, when use_area, the
    area."""
    return ("keypoints", "bbox", "category_id", *(("area",) if use_area else ()))


#: PCK/NME reads the keypoints and the raw box (mmpose 0.29's normaliser) of every annotation.
PCK_FIELDS_READ = ("keypoints", "bbox")


def fields_read(evaluator: Evaluator) -> tuple[str, ...]:
    """The annotation fields `evaluator` reads from every annotation (so they must be present)."""
    return coco_fields_read(evaluator.use_area) if evaluator.kind == "coco_keypoints" else PCK_FIELDS_READ


def source_of(gt: Any) -> str:
    """How a message names the annotations: the file's path, or "annotations" for an in-memory dict."""
    return str(gt) if isinstance(gt, (str, os.PathLike)) else "annotations"


def shown(value: Any, limit: int = 60) -> str:
    """A value as the JSON file spells it (NaN, Infinity, "text", null), cut to `limit` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Findings:
    """The first offender of each kind and how many share it, in the order they were found."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.count: dict[str, int] = {}

    def add(self, kind: str, text: str) -> None:
        self.first.setdefault(kind, text)
        self.count[kind] = self.count.get(kind, 0) + 1

    def message(self, source: str, noun: str) -> str | None:
        if not self.first:
            return None
        parts = []
        for kind, text in self.first.items():
            n = self.count[kind]
            parts.append(text + (f" ({n} {noun}s in all)" if n > 1 else ""))
        return f"{source}: " + "; ".join(parts) + f"; {FIX}"


def check_structure(gt: Any, source: str) -> None:
    """The COCO tables every reader indexes: 'images' and 'annotations' lists of objects, 'categories' (when present)
    a list of objects; every image and category with an id of its own; every annotation's image_id among the images'
    and its category_id (when present) among the categories'. An annotation of an unlisted image or category is no
    error to the evaluators: they skip it, and AR moves. DataError naming the first offender otherwise."""
    where = f"{source} is not a COCO-format annotation file"
    if not isinstance(gt, Mapping):
        raise DataError(f"{where}: the top level is not a JSON object")
    for key in ("images", "annotations", "categories"):
        items = gt.get(key, []) if key == "categories" else gt.get(key)
        if not isinstance(items, list):
            raise DataError(f"{where}: no '{key}' list at the top level")
        bad = next((i for i, x in enumerate(items) if not isinstance(x, Mapping)), None)
        if bad is not None:
            raise DataError(f"{source}: {key}[{bad}] is {shown(items[bad])}, not a JSON object; {FIX}")
    categories = _ids(gt.get("categories", []), "categories", source)
    images = _ids(gt["images"], "images", source)
    for i, ann in enumerate(gt["annotations"]):
        image = ann.get("image_id")
        if _unhashable(image) or image not in images:
            raise DataError(f"{source}: annotations[{i}] refers to image id {shown(image)}, not under 'images'; {FIX}")
        if "category_id" in ann and (_unhashable(ann["category_id"]) or ann["category_id"] not in categories):
            raise DataError(
                f"{source}: annotations[{i}] has category_id {shown(ann['category_id'])}, not under 'categories' "
                f"{sorted(categories, key=str)}; {FIX}"
            )


def _ids(items: list, key: str, source: str) -> set[Any]:
    """The ids of a table's rows: each row has one, a scalar, and no two share it."""
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if item.get("id") is None or _unhashable(item["id"]):
            raise DataError(
                f"{source}: {key}[{i}] has id {shown(item.get('id'))}; every row of '{key}' needs one; {FIX}"
            )
        if item["id"] in seen:
            raise DataError(f"{source}: {key[:-1]} id {shown(item['id'])} appears twice under '{key}'; {FIX}")
        seen.add(item["id"])
    return seen


def _unhashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return True
    return False


def _where(kind: str, i: int, item: Any) -> str:
    return f"{kind}[{i}] (id {item.get('id') if isinstance(item, Mapping) else None})"


def _field_problems(items: Sequence[Any], rules: Mapping[str, tuple], kind: str, required: Sequence[str]) -> _Findings:
    found = _Findings()
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue  # structure is coco_tables' / load_ground_truth's to name
        for name in required:
            if name not in item:
                hint = _ABSENT_HINT.get(name, f"every {kind[:-1]} needs one")
                found.add(f"no {name}", f"{_where(kind, i, item)} has no '{name}': {hint}")
        for name, (ok, rule) in rules.items():
            if name in item and not ok(item[name]):
                found.add(name, f"{_where(kind, i, item)} has '{name}' {shown(item[name])}, expected {rule}")
    return found


def _keypoint_problem(anns: Sequence[Any], k: int, required: bool) -> str | None:
    """Keypoints: 3 * K numbers each, all finite, visibility 0/1/2 (vectorised: files hold ~10^5 annotations)."""
    owners = [i for i, a in enumerate(anns) if isinstance(a, Mapping) and "keypoints" in a]
    if required and len(owners) < len(anns):
        i = next(i for i, a in enumerate(anns) if isinstance(a, Mapping) and "keypoints" not in a)
        return f"{_where('annotations', i, anns[i])} has no 'keypoints': every annotation needs 3 * {k} values"
    if not owners:
        return None
    flat = [anns[i]["keypoints"] for i in owners]
    # numpy would read "12" or true as a number: types are checked first (one C-level pass over every value)
    first = next((j for j, raw in enumerate(flat) if not isinstance(raw, (list, tuple)) or len(raw) != 3 * k), None)
    if first is None and not all(_real_type(t) for t in set(map(type, itertools.chain.from_iterable(flat)))):
        first = next(j for j, raw in enumerate(flat) if not all(_real(v) for v in raw))
    if first is not None:
        i = owners[first]
        return (
            f"{_where('annotations', i, anns[i])} has 'keypoints' {shown(flat[first])}, expected a list of "
            f"3 * {k} = {3 * k} numbers (x, y, visibility per keypoint)"
        )
    try:
        kps = np.asarray(flat, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        kps = np.asarray([[v if _finite(v) else math.inf for v in raw] for raw in flat], dtype=np.float64)
    kps = kps.reshape(len(flat), k, 3)
    bad = ~np.isfinite(kps).all(axis=(1, 2))
    if bad.any():
        i = owners[int(np.argmax(bad))]
        return (
            f"{_where('annotations', i, anns[i])} has a non-finite keypoint value (NaN or inf) in "
            f"{int(bad.sum())} annotation(s) in all"
        )
    vis = kps[:, :, 2]
    bad = ~np.isin(vis, (0.0, 1.0, 2.0)).all(axis=1)
    if bad.any():
        i = owners[int(np.argmax(bad))]
        values = sorted(set(np.unique(vis[bad]).tolist()) - {0.0, 1.0, 2.0})
        return (
            f"{_where('annotations', i, anns[i])} has keypoint visibility {values[:5]}; COCO visibility is "
            "0 (not labelled), 1 (labelled, hidden) or 2 (visible)"
        )
    return None


def check_ground_truth(gt: Mapping[str, Any], *, num_keypoints: int, source: str, required: Sequence[str] = ()) -> None:
    """Raise DataError naming `source`, the annotation or image (index and id), the field, its value and its rule,
    for every kind of malformed value in `gt` (the first offender of each, with a count); return when all is well.

    required: annotation fields that must be present ("keypoints", "bbox", "area"); others are checked when present.
    """
    anns = gt.get("annotations") or []
    found = _field_problems(anns, ANNOTATION_RULES, "annotations", [r for r in required if r != "keypoints"])
    keypoints = _keypoint_problem(anns, num_keypoints, "keypoints" in required)
    if keypoints is not None:
        found.add("keypoints", keypoints)
    message = found.message(source, "annotation")
    images = _field_problems(gt.get("images") or [], IMAGE_RULES, "images", ()).message(source, "image")
    if message and images:
        raise DataError(message.removesuffix(f"; {FIX}") + "; " + images.removeprefix(f"{source}: "))
    if message or images:
        raise DataError(message or images)
