"""Data: image decoding, COCO-style / Horse-10 instance loading, detection boxes, data layout."""

from harness.data.coco_style import clean_gt_bbox, load_detection_instances, load_gt_instances
from harness.data.horse10 import load_horse10_instances
from harness.data.images import ImageCache, decode_image_bytes, read_image
from harness.data.layout import ResolvedSplit, expected_layout, missing_paths, resolve_split
from harness.data.records import InstanceSet, LoadReport, TopdownInstance

__all__ = [
    "ImageCache",
    "InstanceSet",
    "LoadReport",
    "ResolvedSplit",
    "TopdownInstance",
    "clean_gt_bbox",
    "decode_image_bytes",
    "expected_layout",
    "load_detection_instances",
    "load_gt_instances",
    "load_horse10_instances",
    "missing_paths",
    "read_image",
    "resolve_split",
]
