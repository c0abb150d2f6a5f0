"""Top-down instances of Horse-10 (PROTOCOLS.md §5, model-zoo-era semantics).

Every non-crowd annotation with max(keypoints) > 0, the RAW annotation box (no clipping, no cleaning: PROTOCOLS.md
§8 item 3), padding 1.25 (applied by the geometry, PROTOCOLS.md §2.1). bbox_id is a global running id, since Horse-10
predictions are matched to GT by running bbox_id order (PROTOCOLS.md §5).
"""

from __future__ import annotations

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

#: PROTOCOLS.md §2.1: Horse-10 pads the raw box by 1.25.
HORSE10_PADDING = 1.25


def load_horse10_instances(
    ann_file: str | Path,
    *,
    img_dir: str | Path,
    num_keypoints: int | None = 22,
    check_images: bool = True,
) -> InstanceSet:
    """GT instances of a Horse-10 split file; img_dir is the data/horse10/ folder (file names hold sub-folders)."""
    ann_file, img_dir = Path(ann_file), Path(img_dir)
    images, by_image = coco_tables(read_json(ann_file, what="annotation file"), ann_file)
    report = LoadReport(source=str(ann_file))
    out: list[TopdownInstance] = []
    for img in images:
        hw = image_hw(img, ann_file) if "height" in img and "width" in img else None
        for ann in by_image[img["id"]]:
            where = f"{ann_file}: annotation {ann.get('id')}"
            if ann.get("iscrowd", 0):
                report.skipped["crowd annotation"] += 1
                continue
            if max(ann.get("keypoints") or [0]) <= 0:
                report.skipped["no labelled keypoint (max(keypoints) == 0)"] += 1
                continue
            out.append(
                TopdownInstance(
                    image_id=img["id"],
                    image_path=img_dir / img["file_name"],
                    bbox=parse_bbox(ann.get("bbox"), where=where),
                    bbox_score=1.0,
                    bbox_id=len(out),
                    image_size=hw,
                    keypoints=parse_keypoints(ann["keypoints"], num_keypoints=num_keypoints, where=where),
                    annotation_id=ann.get("id"),
                )
            )
    report.kept = len(out)
    if check_images:
        check_images_exist((i.image_path for i in out), img_dir=img_dir, ann_file=ann_file)
    return InstanceSet(tuple(out), report, {img["id"]: img["file_name"] for img in images})
