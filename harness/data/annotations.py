"""Reading COCO-format annotation files with clear errors (shared by the COCO-style and Horse-10 loaders)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError
from harness.gc_paused import gc_paused
from harness.metrics.evaluators import check_annotations, fields_read
from harness.metrics.ground_truth import FIX, IMAGE_RULES, check_ground_truth, check_structure, shown
from zoo.evaluators import Evaluator


def read_json(path: str | Path, *, what: str) -> Any:
    """Parse a JSON file; a missing or malformed file raises DataError naming it and saying what it should be."""
    path = Path(path)
    try:
        with path.open("rb") as f, gc_paused():
            return json.load(f)
    except FileNotFoundError:
        raise DataError(
            f"{what} {path} does not exist; check the data root (see `harness.data.layout.resolve_split`)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is not valid JSON ({exc}); re-download or re-convert it") from exc
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc}") from exc


def coco_tables(data: Any, ann_file: Path) -> tuple[list[dict], dict[int, list[dict]]]:
    """(images in file order, image_id -> its annotations in file order) of a COCO-format dict.

    The order is the reference's: images as listed under "images", annotations of an image in file order
    (xtcocotools `getImgIds` / `imgToAnns`).
    """
    check_structure(data, str(ann_file))  # the scorers' rule: lists of objects, unique ids, known image ids
    images: list[dict] = []
    for i, img in enumerate(data["images"]):
        if "file_name" not in img:
            raise DataError(f"{ann_file}: images[{i}] lacks 'file_name'")
        images.append(img)
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in images}
    for ann in data["annotations"]:
        by_image[ann["image_id"]].append(ann)
    return images, by_image


def image_hw(img: dict, ann_file: Path) -> tuple[int, int]:
    """(H, W) of an image record; both are needed to clean GT boxes. Valid by harness.metrics.ground_truth's rule
    (whole numbers > 0), which the engine checked already; a loader called on its own checks it here."""
    for name in ("height", "width"):
        ok, rule = IMAGE_RULES[name]
        if name not in img or not ok(img[name]):
            value = shown(img[name]) if name in img else "nothing"
            raise DataError(f"{ann_file}: image {img.get('id')} has '{name}' {value}, expected {rule}; {FIX}")
    return int(img["height"]), int(img["width"])


def parse_keypoints(raw: Any, *, num_keypoints: int | None, where: str) -> np.ndarray:
    """Flat [x, y, v] * K list -> [K, 3] float32, checking the length against the dataset's K."""
    try:
        arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'keypoints' is not a list of numbers") from None
    if arr.size % 3 or (num_keypoints is not None and arr.size != 3 * num_keypoints):
        expected = f"3 * {num_keypoints} = {3 * num_keypoints}" if num_keypoints else "a multiple of 3"
        raise DataError(f"{where}: 'keypoints' has {arr.size} values, expected {expected}")
    return arr.reshape(-1, 3).astype(np.float32)


def parse_bbox(raw: Any, *, where: str) -> tuple[float, float, float, float]:
    """A finite (x, y, w, h) box as Python floats."""
    try:
        box = tuple(float(v) for v in raw[:4])
    except (TypeError, ValueError, IndexError):
        raise DataError(f"{where}: 'bbox' is not a list of 4 numbers: {raw!r}") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise DataError(f"{where}: 'bbox' must hold 4 finite numbers (x, y, w, h), got {raw!r}")
    return box  # type: ignore[return-value]


def check_images_exist(paths: Iterable[Path], *, img_dir: Path, ann_file: Path) -> None:
    """Every image an instance refers to must be on disk; name the first few missing ones and the folder."""
    missing = sorted({str(p) for p in paths if not p.is_file()})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(
            f"{len(missing)} image(s) referenced by {ann_file} are missing: {shown}; expected them in {img_dir} "
            "(check --data-root and the dataset layout)"
        )


def validate_ground_truth(data: Any, ann_file: Path, schema, evaluator: Evaluator | None = None) -> None:
    """Ground truth is checked like predictions before it reaches a metric: a NaN value or two annotations sharing
    an id change AP silently in the evaluator (xtcocotools indexes annotations by id). Raises DataError naming the
    file, the annotation and the field. `schema`: the row's zoo.registry.schema.KeypointSchema (keypoint count, and the
    category's keypoint names when the file lists them); `evaluator`: the row's, whose fields must be present in
    every annotation (harness.metrics.evaluators.fields_read), so that a missing one stops the run before its
    inference, not at scoring."""
    coco_tables(data, ann_file)  # structure, unique image ids, known image ids
    k = schema.num_keypoints
    categories = data.get("categories")
    if isinstance(categories, list):
        for i, cat in enumerate(categories):
            names = cat.get("keypoints") if isinstance(cat, dict) else None
            if isinstance(names, list) and len(names) != k:
                raise DataError(
                    f"{ann_file}: categories[{i}] ({cat.get('name')!r}) lists {len(names)} keypoints, but the keypoint "
                    f"schema {schema.name!r} has {k}: this annotation file belongs to another dataset"
                )
    ids: dict[Any, int] = {}
    for i, ann in enumerate(data["annotations"]):
        if "id" in ann:
            if isinstance(ann["id"], bool) or not isinstance(ann["id"], int):
                raise DataError(f"{ann_file}: annotations[{i}] has id {ann['id']!r}; annotation ids are integers")
            if ann["id"] in ids:
                raise DataError(
                    f"{ann_file}: annotations[{ids[ann['id']]}] and annotations[{i}] share the id {ann['id']}; "
                    "annotation ids must be unique (the evaluator indexes annotations by id)"
                )
            ids[ann["id"]] = i
    required = fields_read(evaluator) if evaluator is not None else ()
    check_ground_truth(data, num_keypoints=k, source=str(ann_file), required=required)
    if evaluator is not None:
        check_annotations(evaluator, data, source=str(ann_file))
