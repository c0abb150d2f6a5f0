"""Top-down geometry and inference: box -> center/scale, affine crop (cv2 and integer-exact torch), flip test,
'default' decode, rescoring, OKS-NMS, batched inference (PROTOCOLS.md §3)."""

from harness.topdown.boxes import PIXEL_STD, bbox_to_center_scale, padded_box_area
from harness.topdown.crop import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    affine_matrices,
    affine_matrix,
    crop_cv2,
    normalize_crops,
)
from harness.topdown.decode import argmax_peaks, decode_default, quarter_offset, transform_preds
from harness.topdown.flip import combine_flip, flip_back
from harness.topdown.inference import CropMeta, predict_topdown
from harness.topdown.output import TopdownOutput
from harness.topdown.postprocess import rescore, to_coco_results
from harness.topdown.warp import invert_affine, warp_affine_fixed_point

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PIXEL_STD",
    "CropMeta",
    "TopdownOutput",
    "affine_matrices",
    "affine_matrix",
    "argmax_peaks",
    "bbox_to_center_scale",
    "combine_flip",
    "crop_cv2",
    "decode_default",
    "flip_back",
    "invert_affine",
    "normalize_crops",
    "padded_box_area",
    "predict_topdown",
    "quarter_offset",
    "rescore",
    "to_coco_results",
    "transform_preds",
    "warp_affine_fixed_point",
]
