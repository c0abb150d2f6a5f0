"""DARK and UDP top-down decoding (PROTOCOLS.md §3.1), vectorised over every map of a batch.

The reference refines one keypoint at a time in Python; here each step is one array operation over all N*K maps,
with the reference's number types: NumPy 1.x promotes a float32 scalar times a Python float to float64, so DARK's
derivatives are float64 built from float32 differences (and its mixed second derivative is summed in float32),
while UDP works on float32 arrays until the Hessian meets a float64 epsilon. The Gaussian blurs stay one OpenCV call
per map: blurring many maps as the channels of one image is faster but not bit-identical (OpenCV's SIMD row
filter rounds the tail of a row differently; widths that are not a multiple of the vector width, e.g. DARK's padded
58-pixel rows, differ in the last bit), and a last-bit change can move a CombinedTarget argmax tie.

Maps whose maximum is <= 0 have the location (-1, -1) (`argmax_peaks`). The UDP decoders then read their neighbours
through flat indices into the whole batch, as the reference does: the values come from the previous map (the last
map of the batch for the first one). Kept as it is: such a keypoint's location depends on its neighbour map in the
reference too, and parity (same batches) holds for it.
"""

from __future__ import annotations

import cv2
import numpy as np

from harness.topdown.decode import argmax_peaks

#: CombinedTarget offsets are in units of this fraction of the heatmap height (MMPose's `valid_radius_factor`).
VALID_RADIUS_FACTOR = 0.0546875


def gaussian_blur(maps: np.ndarray, kernel: int) -> np.ndarray:
    """cv2.GaussianBlur (kernel x kernel, sigma from the size, border reflect-101) of every [H, W] map of
    maps [..., H, W] float32 (new array)."""
    shape = maps.shape
    flat = np.ascontiguousarray(maps, dtype=np.float32).reshape(-1, *shape[-2:])
    out = np.empty_like(flat)
    for i, m in enumerate(flat):  # ~10 us a map: a batch of 32 x 17 maps costs a few ms (docs/PERFORMANCE.md)
        cv2.GaussianBlur(m, (kernel, kernel), 0, dst=out[i])
    return out.reshape(shape)


def modulate(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """DARK's Gaussian modulation of heatmaps [N, K, H, W] float32 (new array): each map zero-padded by
    (kernel - 1) / 2, blurred, cropped back, and rescaled so that its maximum is the original one (float32)."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    b = (kernel - 1) // 2
    padded = np.pad(hm, ((0, 0), (0, 0), (b, b), (b, b)))
    blurred = gaussian_blur(padded, kernel)[..., b : b + hm.shape[2], b : b + hm.shape[3]]
    # float32 scalar / float32 scalar stays float32 in the reference; so does the in-place product.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = hm.max(axis=(2, 3)) / blurred.max(axis=(2, 3))
    return (blurred * ratio[..., None, None]).astype(np.float32)


def _at(maps: np.ndarray, ni, ki, y, x) -> np.ndarray:
    return maps[ni, ki, y, x]


def dark_refine(heatmaps: np.ndarray, coords: np.ndarray, kernel: int) -> np.ndarray:
    """DARK (post_process='unbiased'): coords [N, K, 2] float32 refined by one Newton step on the log of the
    modulated heatmaps [N, K, H, W] (new array).

    Only peaks with 1 < px < W-2 and 1 < py < H-2 move, and only where the Hessian's determinant is not 0.
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    n, k, h, w = hm.shape
    logs = np.log(np.maximum(modulate(hm, kernel), np.float32(1e-10)))
    out = np.array(coords, dtype=np.float32, copy=True)
    px = out[..., 0].astype(np.int64)
    py = out[..., 1].astype(np.int64)
    ok = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    x, y = np.where(ok, px, 2), np.where(ok, py, 2)  # any in-range index; masked out below
    ni, ki = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")

    def v(dy: int, dx: int) -> np.ndarray:
        return _at(logs, ni, ki, y + dy, x + dx)

    f64 = np.float64
    dx = 0.5 * (v(0, 1) - v(0, -1)).astype(f64)
    dy = 0.5 * (v(1, 0) - v(-1, 0)).astype(f64)
    dxx = 0.25 * ((v(0, 2).astype(f64) - 2 * v(0, 0).astype(f64)) + v(0, -2).astype(f64))
    dyy = 0.25 * ((v(2, 0).astype(f64) - 2 * v(0, 0).astype(f64)) + v(-2, 0).astype(f64))
    dxy = 0.25 * (((v(1, 1) - v(-1, 1)) - v(1, -1)) + v(-1, -1)).astype(f64)
    move = ok & (dxx * dyy - dxy**2 != 0)
    hessian = np.stack([np.stack([dxx, dxy], -1), np.stack([dxy, dyy], -1)], -2)[move]
    grad = np.stack([dx, dy], -1)[move][..., None]
    offset = (-np.linalg.inv(hessian)) @ grad
    out[move] = (out[move].astype(f64) + offset[..., 0]).astype(np.float32)
    return out


def udp_refine(heatmaps: np.ndarray, coords: np.ndarray, kernel: int) -> np.ndarray:
    """UDP's refinement (`post_dark_udp`): coords [N, K, 2] float32 moved by one Newton step on the log of the
    blurred heatmaps [N, K, H, W] clipped to [0.001, 50], finite differences on the edge-padded maps, the Hessian
    regularised by float32 epsilon * I (new array)."""
    hm = gaussian_blur(heatmaps, kernel)
    n, k, h, w = hm.shape
    np.clip(hm, np.float32(0.001), np.float32(50), out=hm)
    logs = np.log(hm)
    flat = np.pad(logs, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").reshape(-1)
    row = w + 2
    c = np.asarray(coords, dtype=np.float32)
    idx = (c[..., 0] + 1 + (c[..., 1] + 1) * row).astype(np.int64)
    idx = (idx + row * (h + 2) * np.arange(n * k).reshape(n, k)).reshape(-1)
    # Flat gathers: a (-1, -1) location reads the previous map here, as in the reference (module docstring).
    i0, xp, xm = flat[idx], flat[idx + 1], flat[idx - 1]
    yp, ym = flat[idx + row], flat[idx - row]
    xpyp, xmym = flat[idx + row + 1], flat[idx - row - 1]
    dx = np.float32(0.5) * (xp - xm)
    dy = np.float32(0.5) * (yp - ym)
    dxx = xp - 2 * i0 + xm
    dyy = yp - 2 * i0 + ym
    dxy = np.float32(0.5) * (xpyp - xp - yp + i0 + i0 - xm - ym + xmym)
    hessian = np.stack([dxx, dxy, dxy, dyy], -1).reshape(-1, 2, 2) + np.finfo(np.float32).eps * np.eye(2)
    step = np.einsum("imn,in->im", np.linalg.inv(hessian), np.stack([dx, dy], -1))
    return (c.reshape(-1, 2) - step).astype(np.float32).reshape(n, k, 2)


def decode_udp_heatmaps(heatmaps: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """(coords [N, K, 2] float32 in heatmap pixels, maxvals [N, K] float32) of UDP Gaussian heatmaps: the argmax of
    the raw maps refined by `udp_refine`."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    coords, maxvals = argmax_peaks(hm)
    return udp_refine(hm, coords, kernel), maxvals


def decode_combined(outputs: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """(coords [N, K, 2] float32, maxvals [N, K] float32) of CombinedTarget outputs [N, 3K, H, W] (heatmap, x offset,
    y offset per keypoint): heatmaps blurred with a (2 * kernel + 1) kernel and offsets with `kernel`; the argmax of
    the blurred heatmap (its value is the maxval) plus the offsets there, in units of VALID_RADIUS_FACTOR * H."""
    out = np.asarray(outputs, dtype=np.float32)
    n, c, h, w = out.shape
    heat = gaussian_blur(out[:, 0::3], 2 * kernel + 1)
    offsets = gaussian_blur(out[:, 1::3], kernel), gaussian_blur(out[:, 2::3], kernel)
    radius = VALID_RADIUS_FACTOR * h
    coords, maxvals = argmax_peaks(heat)
    k = c // 3
    idx = (coords[..., 0] + coords[..., 1] * w).astype(np.int64) + h * w * np.arange(n * k).reshape(n, k)
    # Flat gathers: a (-1, -1) location (maxval <= 0) reads the previous map's last row, as in the reference.
    shift = np.stack([(o.reshape(-1) * np.float32(radius))[idx] for o in offsets], -1)
    return (coords + shift).astype(np.float32), maxvals
