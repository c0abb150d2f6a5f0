"""Top-down instances of COCO-style datasets: GT boxes (AIC, MacaquePose, ATRW, COCO GT) and detector boxes (COCO).

PROTOCOLS.md §5 (GT instance loading) and §2.1 (detector file). Order and ids follow the reference:
images in annotation-file order, annotations of an image in file order; GT bbox_id restarts at 0 in each image,
detector bbox_id is a global running id over the kept detections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from harness.data.annotations import (
    check_images_exist,
    coco_tables,
    image_hw,
    parse_bbox,
    parse_keypoints,
    read_json,
)
from harness.data.records import InstanceSet, LoadReport, TopdownInstance
from harness.errors import DataError

PERSON_CATEGORY = 1


def clean_gt_bbox(
    bbox: Sequence[float], *, image_size: tuple[int, int], shrink: bool
) -> tuple[float, float, float, float] | None:
    """Clip a GT (x, y, w, h) box to the image; None when nothing is left.

    PROTOCOLS.md §5: x1 = max(0, x), x2 = min(img_w - 1, x1 + max(0, w')), likewise y; keep if x2 > x1 and
    y2 > y1. w' = w - 1 in the model-zoo era (`Era.gt_box_shrink`, until PR #1367), w' = w in 0.x HEAD and 1.x
    (PROTOCOLS.md §8 item 3). A box entirely outside the image ends up with x2 <= x1 (or y) and is dropped.
    """
    img_h, img_w = image_size
    x, y, w, h = (float(v) for v in bbox[:4])
    if shrink:
        w, h = w - 1, h - 1
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(img_w - 1.0, x1 + max(0.0, w))
    y2 = min(img_h - 1.0, y1 + max(0.0, h))
    if x2 > x1 and y2 > y1:
        return (x1, y1, x2 - x1, y2 - y1)
    return None


def _gt_skip_reason(
    ann: dict, box: tuple[float, float, float, float] | None, *, image_size: tuple[int, int], shrink: bool
) -> str | None:
    """Why the reference drops this annotation (PROTOCOLS.md §5), or None if it is kept. Checked in its order."""
    if ann.get("iscrowd", 0):  # getAnnIds(iscrowd=False); AIC has no field, which counts as not crowd
        return "crowd annotation"
    if box is None:
        return "no bbox"
    if "area" in ann and not ann["area"] > 0:
        return "area <= 0"
    if clean_gt_bbox(box, image_size=image_size, shrink=shrink) is None:
        return "box empty after clipping to the image (degenerate or outside)"
    if "keypoints" not in ann:
        return "no keypoints"
    if max(ann["keypoints"], default=0) == 0:
        return "no labelled keypoint (max(keypoints) == 0)"
    if "num_keypoints" in ann and ann["num_keypoints"] == 0:
        return "num_keypoints == 0"
    return None


def load_gt_instances(
    ann_file: str | Path,
    *,
    img_dir: str | Path,
    gt_box_shrink: bool,
    num_keypoints: int | None = None,
    check_images: bool = True,
) -> InstanceSet:
    """GT-box instances of a COCO-style file (AIC, MacaquePose, ATRW; also COCO with GT boxes).

    gt_box_shrink: `protocol.era.gt_box_shrink` (PROTOCOLS.md §5, §8 item 3). AIC files have no `area`/`iscrowd`.
    Each instance carries the cleaned box, bbox_score 1, bbox_id restarting at 0 per image, and the GT keypoints
    [K, 3] float32.
    """
    ann_file, img_dir = Path(ann_file), Path(img_dir)
    images, by_image = coco_tables(read_json(ann_file, what="annotation file"), ann_file)
    report = LoadReport(source=str(ann_file))
    out: list[TopdownInstance] = []
    for img in images:
        hw = image_hw(img, ann_file)
        bbox_id = 0
        for ann in by_image[img["id"]]:
            where = f"{ann_file}: annotation {ann.get('id')}"
            raw_box = parse_bbox(ann["bbox"], where=where) if "bbox" in ann else None
            reason = _gt_skip_reason(ann, raw_box, image_size=hw, shrink=gt_box_shrink)
            if reason is not None:
                report.skipped[reason] += 1
                continue
            box = clean_gt_bbox(raw_box, image_size=hw, shrink=gt_box_shrink)  # type: ignore[arg-type]
            kpts = parse_keypoints(ann["keypoints"], num_keypoints=num_keypoints, where=where)
            num_keypoints = kpts.shape[0]
            out.append(
                TopdownInstance(
                    image_id=img["id"],
                    image_path=img_dir / img["file_name"],
                    bbox=box,  # type: ignore[arg-type]
                    bbox_score=1.0,
                    bbox_id=bbox_id,
                    image_size=hw,
                    keypoints=kpts,
                    annotation_id=ann.get("id"),
                )
            )
            bbox_id += 1
    report.kept = len(out)
    if check_images:
        check_images_exist((i.image_path for i in out), img_dir=img_dir, ann_file=ann_file)
    return InstanceSet(tuple(out), report, {img["id"]: img["file_name"] for img in images})


def _flag_detection(box: tuple[float, float, float, float], hw: tuple[int, int] | None) -> str | None:
    x, y, w, h = box
    if w <= 0 and h <= 0:
        return "zero-size box: the crop is degenerate, keypoints land on the box centre"
    if w <= 0 or h <= 0:
        return "non-positive width or height (the aspect fix still gives a crop)"
    if hw is not None and (x >= hw[1] or y >= hw[0] or x + w <= 0 or y + h <= 0):
        return "box entirely outside the image (the crop is black)"
    return None


def load_detection_instances(
    det_file: str | Path,
    *,
    ann_file: str | Path,
    img_dir: str | Path,
    score_threshold: float = 0.0,
    check_images: bool = True,
) -> InstanceSet:
    """Detector-box instances (COCO): category 1 only, score >= score_threshold, boxes used as-is.

    PROTOCOLS.md §2.1/§5: list of {image_id, category_id, bbox (x, y, w, h), score}; bbox_id is a global running id
    over the kept boxes, in file order. Boxes with non-positive size or outside the image are KEPT, as the
    reference keeps them (dropping them would change AP against it); they are counted in `report.flagged`.
    An empty file, or one without a category-1 box at or above the threshold, is an error.
    """
    det_file, ann_file, img_dir = Path(det_file), Path(ann_file), Path(img_dir)
    images, _ = coco_tables(read_json(ann_file, what="annotation file"), ann_file)
    id2img = {img["id"]: img for img in images}
    dets = read_json(det_file, what="detection box file")
    if not isinstance(dets, list):
        raise DataError(f"detection box file {det_file} must hold a JSON list of detections, got {type(dets).__name__}")
    if not dets:
        raise DataError(f"detection box file {det_file} is empty: it holds no detections")
    report = LoadReport(source=str(det_file))
    out: list[TopdownInstance] = []
    for i, det in enumerate(dets):
        where = f"{det_file}: entry {i}"
        if not isinstance(det, dict) or not {"image_id", "category_id", "bbox", "score"} <= det.keys():
            raise DataError(f"{where} lacks one of image_id, category_id, bbox, score")
        if det["category_id"] != PERSON_CATEGORY:
            report.skipped[f"category_id != {PERSON_CATEGORY}"] += 1
            continue
        score = float(det["score"])
        if not math.isfinite(score):
            raise DataError(f"{where}: score {det['score']!r} is not a finite number")
        if score < score_threshold:
            report.skipped[f"score < {score_threshold}"] += 1
            continue
        img = id2img.get(det["image_id"])
        if img is None:
            raise DataError(
                f"{where} refers to image id {det['image_id']}, which {ann_file} does not list; "
                "the box file and the annotation file do not belong together"
            )
        box = parse_bbox(det["bbox"], where=where)
        hw = (int(img["height"]), int(img["width"])) if "height" in img and "width" in img else None
        flag = _flag_detection(box, hw)
        if flag:
            report.flagged[flag] += 1
        out.append(
            TopdownInstance(
                image_id=img["id"],
                image_path=img_dir / img["file_name"],
                bbox=box,
                bbox_score=score,
                bbox_id=len(out),
                image_size=hw,
            )
        )
    report.kept = len(out)
    if not out:
        raise DataError(
            f"detection box file {det_file} has no usable box: {len(dets)} entries, none with category_id "
            f"{PERSON_CATEGORY} and score >= {score_threshold} ({report.summary()})"
        )
    if check_images:
        check_images_exist((i.image_path for i in out), img_dir=img_dir, ann_file=ann_file)
    return InstanceSet(tuple(out), report, {img["id"]: img["file_name"] for img in images})
