"""MPII annotations in MMPose's json format (PROTOCOLS.md §11): one record per person, each naming its image and
giving the crop's center and scale in MATLAB's 1-based pixels, with no box.

    [{"image": "005808361.jpg", "center": [966.0, 340.0], "scale": 4.718488,
      "joints": [[x, y] * 16], "joints_vis": [0/1 * 16]}, ...]

Every record is one top-down instance, in file order; its bbox_id is its index in the file, which is also its
person's column in the PCKh ground truth (harness.metrics.pckh). The center is moved down by 15 x scale (when its x
is not -1) and made 0-based, in float32, as the reference does; the scale is one side of the person's square / 200,
padded later by the protocol. `joints`/`joints_vis` are not read here: scoring reads MPII's .mat.

Image ids: the json has none, so images are numbered 1, 2, ... in order of first appearance; `mpii_tables` gives the
file as the COCO-shaped tables (images, annotations with image_id) the engine selects images from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.annotations import check_images_exist, read_json
from harness.data.records import InstanceSet, LoadReport, TopdownInstance
from harness.errors import DataError
from harness.metrics.ground_truth import FIX, shown

#: The reference's shift of the center, in units of scale (pixels / 200), "to avoid cropping limbs".
CENTER_SHIFT = 15


@dataclass(frozen=True)
class MpiiPerson:
    """One record of the json, checked: its image, image id, and the 0-based float32 center and scale."""

    image: str
    image_id: int
    center: tuple[float, float]
    scale: float


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _problem(rec: Any) -> str | None:
    """What is wrong with one record (None when nothing)."""
    if not isinstance(rec, dict):
        return f"is {shown(rec)}, not a JSON object"
    if not isinstance(rec.get("image"), str) or not rec["image"] or "\\" in rec["image"]:
        return f"has 'image' {shown(rec.get('image'))}, expected an image file name"
    center = rec.get("center")
    if not isinstance(center, list) or len(center) != 2 or not all(_number(v) for v in center):
        return f"has 'center' {shown(center)}, expected 2 finite numbers [x, y]"
    if not _number(rec.get("scale")) or rec["scale"] <= 0:
        return f"has 'scale' {shown(rec.get('scale'))}, expected a finite number > 0 (person size / 200)"
    return None


def read_mpii_annotations(ann_file: str | Path) -> tuple[MpiiPerson, ...]:
    """The persons of an MPII json file in file order; DataError naming the first bad record and its field."""
    ann_file = Path(ann_file)
    data = read_json(ann_file, what="annotation file")
    if not isinstance(data, list):
        raise DataError(f"{ann_file} is not an MPII annotation file: the top level is not a JSON list of persons")
    ids: dict[str, int] = {}
    out = []
    for i, rec in enumerate(data):
        problem = _problem(rec)
        if problem:
            raise DataError(f"{ann_file}: record [{i}] {problem}; {FIX}")
        center = np.asarray(rec["center"], dtype=np.float32)
        scale = np.float32(rec["scale"])
        if center[0] != -1:
            center[1] = center[1] + CENTER_SHIFT * scale
        center = center - np.float32(1)  # MATLAB's 1-based pixels -> 0-based
        image_id = ids.setdefault(rec["image"], len(ids) + 1)
        out.append(MpiiPerson(rec["image"], image_id, (float(center[0]), float(center[1])), float(scale)))
    return tuple(out)


def mpii_tables(persons: tuple[MpiiPerson, ...]) -> dict[str, Any]:
    """The persons as COCO-shaped tables: images {id, file_name} in first-appearance order, annotations {id
    (= bbox_id), image_id}; what the engine selects images (--limit) and their persons from."""
    images = {p.image_id: p.image for p in persons}
    return {
        "images": [{"id": i, "file_name": name} for i, name in images.items()],
        "annotations": [{"id": b, "image_id": p.image_id} for b, p in enumerate(persons)],
        "categories": [],
    }


def load_mpii_instances(ann_file: str | Path, *, img_dir: str | Path, check_images: bool = True) -> InstanceSet:
    """Every person of the file as a top-down instance (bbox_id = file index), with its own center and scale; its
    bbox is the unpadded square they describe (what a message or a chunk key shows)."""
    ann_file, img_dir = Path(ann_file), Path(img_dir)
    persons = read_mpii_annotations(ann_file)
    out = []
    for bbox_id, p in enumerate(persons):
        side = p.scale * 200.0
        out.append(
            TopdownInstance(
                image_id=p.image_id,
                image_path=img_dir / p.image,
                bbox=(p.center[0] - side / 2, p.center[1] - side / 2, side, side),
                bbox_score=1.0,
                bbox_id=bbox_id,
                center=p.center,
                scale=p.scale,
            )
        )
    report = LoadReport(source=str(ann_file), kept=len(out))
    if check_images:
        check_images_exist((i.image_path for i in out), img_dir=img_dir, ann_file=ann_file)
    return InstanceSet(tuple(out), report, {p.image_id: p.image for p in persons})
