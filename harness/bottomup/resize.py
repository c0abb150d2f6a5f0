"""Bottom-up test-time resize (PROTOCOLS.md §4, "Test-time resize"; §8 item 8).

Sizes are (H, W) in code. MMPose writes them (w, h) (`base_size = (W_1, H_1)`); we convert here and say so.
Centres are (x, y) and scales (s_w, s_h) in units of 200 px, as MMPose stores them, because transform_preds and the
affine construction read them in that order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from harness.errors import BottomUpConfigError
from harness.topdown.crop import crop_cv2, normalize_crops

#: MMPose's pixel_std: scales are in units of 200 px.
PIXEL_STD = 200.0
#: PROTOCOLS.md §4: canvas sides are multiples of 64 at the minimum test scale.
BASE_LENGTH = 64


@dataclass(frozen=True)
class ScaleGeometry:
    """Where one test scale's input comes from.

    size_hw: (H_t, W_t) of the network input. center: integer image centre (x, y). scale: (s_w, s_h) / 200 px,
    float64 as the reference computes it from Python floats.
    """

    factor: float
    size_hw: tuple[int, int]
    center: tuple[int, int]
    scale: tuple[float, float]


@dataclass(frozen=True)
class ScalePlan:
    """All scales of one image, in processing order (descending factors, PROTOCOLS.md §4).

    base_size_hw: (H_1, W_1), the scale-1 canvas computed WITH the minimum factor (PROTOCOLS.md §8 item 8); every
    heatmap is resized to it. center/scale: those of scale 1, used by transform_preds.
    """

    image_hw: tuple[int, int]
    input_size: int
    scales: tuple[ScaleGeometry, ...]
    base: ScaleGeometry

    @property
    def base_size_hw(self) -> tuple[int, int]:
        return self.base.size_hw


def _ceil64(v: float) -> int:
    return math.ceil(v / BASE_LENGTH) * BASE_LENGTH


def scale_geometry(image_hw: tuple[int, int], *, input_size: int, factor: float, min_factor: float) -> ScaleGeometry:
    """Input size, centre and scale of one test scale (PROTOCOLS.md §4, `_get_multi_scale_size`).

    image_hw: (h, w) of the image. Example: (480, 640), input_size 512, factor 1, min_factor 1 ->
    size_hw (512, 704), center (320, 240), scale (3.3, 2.4).
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    if h <= 0 or w <= 0:
        raise BottomUpConfigError(f"image size (H, W) = {image_hw} is empty; expected positive sides")
    m, t = float(min_factor), float(factor)
    short = _ceil64(m * input_size)
    if w < h:
        w_t = int(short * t / m)
        h_t = int(_ceil64(short / w * h) * t / m)
        scale = (w / PIXEL_STD, h_t / w_t * w / PIXEL_STD)
    else:
        h_t = int(short * t / m)
        w_t = int(_ceil64(short / h * w) * t / m)
        scale = (w_t / h_t * h / PIXEL_STD, h / PIXEL_STD)
    # Python round is half-to-even: 213.5 -> 214, 166.5 -> 166, 187.5 -> 188 (PROTOCOLS.md §4).
    center = (round(w / 2.0), round(h / 2.0))
    return ScaleGeometry(factor=t, size_hw=(h_t, w_t), center=center, scale=scale)


def plan_scales(image_hw: tuple[int, int], *, input_size: int, factors: Sequence[float]) -> ScalePlan:
    """Every scale of one image, descending, plus the base (scale-1) canvas (PROTOCOLS.md §4).

    Example: (480, 640) at 512 with factors [2, 1, 0.5] -> sizes (1024, 1536), (512, 768), (256, 384) and
    base_size_hw (512, 768).
    """
    factors = [float(f) for f in factors]
    if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
        raise BottomUpConfigError(f"test scale factors {factors} are invalid; expected positive numbers, e.g. [1]")
    if len(set(factors)) != len(factors):
        raise BottomUpConfigError(f"test scale factors {factors} repeat a value; list each scale once")
    m = min(factors)
    scales = tuple(
        scale_geometry(image_hw, input_size=input_size, factor=f, min_factor=m) for f in sorted(factors, reverse=True)
    )
    base = scale_geometry(image_hw, input_size=input_size, factor=1.0, min_factor=m)
    return ScalePlan(
        image_hw=(int(image_hw[0]), int(image_hw[1])), input_size=int(input_size), scales=scales, base=base
    )


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def affine_matrix(geometry: ScaleGeometry) -> np.ndarray:
    """[2, 3] float64 image -> input matrix of one scale (PROTOCOLS.md §3 construction, §4 bottom-up use).

    The same three point pairs as the top-down crop (`harness.topdown.crop.affine_matrix`), but the bottom-up scale
    is float64 (it comes from the §4 formulas in Python floats), so scale * 200 and the points are computed in
    float64 and only then rounded to the float32 points handed to cv2.getAffineTransform. The top-down helper
    rounds the scale to float32 first, which is right for its float32 boxes and could move a point by one float32
    ulp here.
    """
    out_h, out_w = geometry.size_hw
    c = np.asarray(geometry.center, dtype=np.float64)
    src_w = float(geometry.scale[0]) * PIXEL_STD
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = c
    src[1] = c + np.array([0.0, src_w * -0.5])
    src[2] = _third_point(src[0], src[1])
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = np.array([out_w * 0.5, out_h * 0.5]) + np.array([0.0, out_w * -0.5])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


def resize_image(image_rgb: np.ndarray, geometry: ScaleGeometry) -> np.ndarray:
    """uint8 [H_t, W_t, 3] input of one scale: cv2.warpAffine INTER_LINEAR, black border (PROTOCOLS.md §4, §8 item 12).

    image_rgb: uint8 [h, w, 3] RGB, not modified.
    """
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise BottomUpConfigError(
            f"expected an RGB uint8 image [H, W, 3], got {image_rgb.dtype} {image_rgb.shape}; decode it with "
            "harness.data.images.read_image"
        )
    return crop_cv2(image_rgb, affine_matrix(geometry), output_size=geometry.size_hw)


def to_input_tensor(image_rgb: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] RGB -> float32 [1, 3, H, W]: ToTensor then ImageNet NormalizeTensor (PROTOCOLS.md §2.3)."""
    chw = torch.from_numpy(np.ascontiguousarray(image_rgb.transpose(2, 0, 1)))
    return normalize_crops(chw.unsqueeze(0))


def transform_to_image(coords: np.ndarray, *, center: Sequence[float], scale: Sequence[float], size_hw) -> np.ndarray:
    """Canvas (x, y) -> image (x, y) (PROTOCOLS.md §4 step 7, transform_preds without UDP).

    coords: [..., 2] float32 canvas coordinates at base size (H_1, W_1). Returns float32 [..., 2]:
    x_img = x * (s_w * 200 / W_1) + c_x - s_w * 200 * 0.5, in float64 then rounded to float32 (as the reference
    writes float64 results into a float32 copy). Missing joints (0, 0) land at the canvas top-left.
    """
    h1, w1 = size_hw
    sw, sh = float(scale[0]) * PIXEL_STD, float(scale[1]) * PIXEL_STD
    xy = np.asarray(coords, dtype=np.float32).astype(np.float64)
    out = np.empty(xy.shape, dtype=np.float32)
    out[..., 0] = xy[..., 0] * (sw / w1) + center[0] - sw * 0.5
    out[..., 1] = xy[..., 1] * (sh / h1) + center[1] - sh * 0.5
    return out
