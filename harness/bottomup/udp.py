"""Bottom-up unbiased data processing (UDP, `affine: udp`; PROTOCOLS.md §4 "Unbiased data processing").

Under UDP a canvas of W_t x H_t pixels spans the image region [0, R_w] x [0, R_h] corner pixel to corner pixel
(pixel centres, hence the `- 1` everywhere), the maps stay at the network's output resolution, adjust is the DARK
Taylor step on log heatmaps and refine adds no half pixel. Sizes are (H, W) in code; regions are (R_w, R_h) in
pixels, as MMPose writes its `scale` under UDP.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from harness.bottomup.aggregate import _check_outputs
from harness.bottomup.resize import ScaleGeometry, ScalePlan
from harness.errors import BottomUpConfigError
from harness.topdown.crop import crop_cv2

#: DARK-UDP adjust: Gaussian blur kernel and the clip before the log (MMPose `post_dark_udp` defaults).
BLUR_KERNEL = 3
LOG_CLIP = (0.001, 50.0)


def region(image_hw: tuple[int, int], geometry: ScaleGeometry) -> tuple[float, float]:
    """(R_w, R_h) in float64: the image region a canvas of geometry.size_hw spans under UDP.

    The short side spans the image exactly (w - 1 or h - 1); the long side keeps the canvas's aspect ratio measured
    between corner pixels: portrait R_h = (H_t - 1) / (W_t - 1) * (w - 1).
    """
    h, w = image_hw
    h_t, w_t = geometry.size_hw
    if w < h:
        return float(w) - 1.0, (h_t - 1.0) / (w_t - 1.0) * (float(w) - 1.0)
    return (w_t - 1.0) / (h_t - 1.0) * (float(h) - 1.0), float(h) - 1.0


def warp_matrix(plan: ScalePlan, geometry: ScaleGeometry) -> np.ndarray:
    """[2, 3] float32 image -> input matrix of one scale: a pure scaling, corner pixel to corner pixel.

    Every scale maps the region of the SMALLEST scale's canvas (MMPose computes it with current = min scale) onto
    its own canvas; the ratio is taken between float32 values, as the reference rounds both sizes first.
    """
    smallest = min(plan.scales, key=lambda g: g.factor)
    r = np.asarray(region(plan.image_hw, smallest), dtype=np.float32)
    dst = np.asarray(geometry.size_hw[::-1], dtype=np.float32) - np.float32(1.0)
    m = np.zeros((2, 3), dtype=np.float32)
    m[0, 0], m[1, 1] = dst[0] / r[0], dst[1] / r[1]
    return m


def resize_image(image_rgb: np.ndarray, plan: ScalePlan, geometry: ScaleGeometry) -> np.ndarray:
    """uint8 [H_t, W_t, 3] input of one scale under UDP (cv2.warpAffine INTER_LINEAR, black border)."""
    return crop_cv2(image_rgb, warp_matrix(plan, geometry), output_size=geometry.size_hw)


def _resize(x: torch.Tensor, size_hw: Sequence[int]) -> torch.Tensor:
    """Bilinear with align_corners True (the UDP configs' setting); same size is the identity."""
    if tuple(x.shape[-2:]) == tuple(size_hw):
        return x
    return F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=True)


def _average(maps: Sequence[torch.Tensor], size_hw: Sequence[int]) -> torch.Tensor:
    """(m_0 + m_1 + ...) / n after resizing each to size_hw, summed left to right into a new tensor."""
    total = _resize(maps[0], size_hw).clone()
    for m in maps[1:]:
        total += _resize(m, size_hw)
    return total.div_(len(maps))


def _to_last(maps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Each map resized to the last one's resolution, kept apart (the tags' stage "concat")."""
    return [_resize(m, maps[-1].shape[-2:]) for m in maps]


def _mirror(maps: Sequence[torch.Tensor], flip_index: Sequence[int]) -> list[torch.Tensor]:
    """Maps of the flipped input back in the image's frame: mirrored along width, joint channels permuted."""
    return [torch.flip(m, [3])[:, list(flip_index)] for m in maps]


def pass_maps(
    outputs: Sequence[torch.Tensor], outputs_flipped: Sequence[torch.Tensor] | None, *, k: int, flip_index
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One scale's passes -> (heatmaps [1, K, h, w] at the LAST output's resolution, tag maps [orig, flipped]).

    Heatmaps of every output, flipped ones mirrored first, are resized (align_corners True) to the last output's
    resolution and averaged, then original and flipped are averaged; tag maps (outputs with 2K channels) are kept
    apart, at the last tag output's resolution (PROTOCOLS.md §4 "Unbiased data processing").
    """
    _check_outputs(outputs, k)
    heats = [o[:, :k] for o in outputs]
    tags = [o[:, k:] for o in outputs if o.shape[1] == 2 * k]
    last = heats[-1].shape[-2:]
    heat = _average(heats, last)
    if outputs_flipped is None:
        return heat, _to_last(tags)
    _check_outputs(outputs_flipped, k)
    heats_f = _mirror([o[:, :k] for o in outputs_flipped], flip_index)
    tags_f = _mirror([o[:, k:] for o in outputs_flipped if o.shape[1] == 2 * k], flip_index)
    return (heat + _average(heats_f, last)) / 2.0, _to_last(tags) + _to_last(tags_f)


def combine_scales(heatmaps: Sequence[torch.Tensor], tags: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-scale heatmaps (processing order, largest first) and scale 1's tag maps -> (heatmaps [1, K, H, W] at the
    largest scale's resolution, tags [1, K, H, W, L]): heatmaps resized there and averaged; tags stacked on a new last
    axis, then each component resized to the heatmaps' size if it differs."""
    if not heatmaps or not tags:
        raise BottomUpConfigError("UDP aggregation needs every scale's heatmaps and scale 1's tags")
    size = heatmaps[0].shape[-2:]
    heat = _average(heatmaps, size)
    stacked = torch.stack(list(tags), dim=4)
    if tuple(stacked.shape[2:4]) != tuple(size):
        stacked = torch.stack([_resize(stacked[..., i], size) for i in range(stacked.shape[-1])], dim=4)
    return heat, stacked


def dark_adjust(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """UDP adjust of EVERY joint (missing ones at (0, 0) too): one Newton step on the log of the blurred heatmap.

    persons [P, K, 3 + L] float32 (not modified); heatmaps [K, H, W] float32, the aggregated maps (not modified:
    the step reads a blurred copy). Gradient and Hessian by central differences at the integer peak, on the map
    blurred (3 x 3 Gaussian, sigma from the kernel size), clipped to [0.001, 50], in log and edge-padded by one pixel;
    the float32 differences, the float64 inverse of Hessian + eps I and the float32 rounding of the moved
    coordinates follow the reference's dtypes.
    """
    out = persons.copy()
    if not len(out):
        return out
    k = heatmaps.shape[0]
    logs = np.stack([cv2.GaussianBlur(m, (BLUR_KERNEL, BLUR_KERNEL), 0) for m in heatmaps])
    logs = np.log(np.clip(logs, *LOG_CLIP))
    padded = np.pad(logs, ((0, 0), (1, 1), (1, 1)), mode="edge")  # [K, H + 2, W + 2]
    x = out[..., 0].astype(np.int64) + 1
    y = out[..., 1].astype(np.int64) + 1
    j = np.arange(k)[None, :]

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[j, y + dy, x + dx]  # [P, K] float32

    c, xr, xl, yd, yu = at(0, 0), at(0, 1), at(0, -1), at(1, 0), at(-1, 0)
    dx = np.float32(0.5) * (xr - xl)
    dy = np.float32(0.5) * (yd - yu)
    dxx = xr - np.float32(2) * c + xl
    dyy = yd - np.float32(2) * c + yu
    dxy = np.float32(0.5) * (at(1, 1) - xr - yd + c + c - xl - yu + at(-1, -1))
    hessian = np.stack([np.stack([dxx, dxy], -1), np.stack([dxy, dyy], -1)], -2)  # [P, K, 2, 2] float32
    inv = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    step = np.einsum("ijmn,ijnk->ijmk", inv, np.stack([dx, dy], -1)[..., None])[..., 0]  # float64
    out[..., :2] = (out[..., :2].astype(np.float64) - step).astype(np.float32)
    return out


def to_image(coords: np.ndarray, plan: ScalePlan, heatmap_hw: Sequence[int]) -> np.ndarray:
    """Heatmap (x, y) -> image (x, y) under UDP: x * R_w / (w - 1), y * R_h / (h - 1) (R of the scale-1 canvas,
    w x h the aggregated heatmaps' size), the factor rounded to float32 and the product taken in float32; no
    translation (the canvas's corner pixel is the image's)."""
    r_w, r_h = region(plan.image_hw, plan.base)
    h, w = heatmap_hw
    factor = np.array([r_w / np.float64(np.float32(w - 1.0)), r_h / np.float64(np.float32(h - 1.0))], np.float32)
    return np.asarray(coords, dtype=np.float32) * factor
