"""Integer-exact torch emulation of OpenCV 4.x `warpAffine(uint8, INTER_LINEAR, BORDER_CONSTANT 0)`.

PROTOCOLS.md §10: OpenCV inverts M in float64 and maps every output pixel to the source with fixed-point
arithmetic (AB_BITS = 10, INTER_BITS = 5, round_delta 16); bilinear weights live on a 1/32 grid, scaled so that
they sum to 32768, and value = (sum + 16384) >> 15. Out-of-image neighbours read 0. Reproducing that with
integers is bit-identical to cv2 (tests/harness/topdown/test_warp.py) and runs batched on any torch device.

The float64 part (inverse matrix, per-row and per-column offsets) is tiny and computed with numpy on the host, in
the same operation order as OpenCV, so that no device-side FMA contraction can change a rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

AB_BITS = 10
INTER_BITS = 5
INTER_TAB = 1 << INTER_BITS  # 32
ROUND_DELTA = (1 << AB_BITS) // INTER_TAB // 2  # 16
COEF_BITS = 15


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """[2, 3] float64 inverse as cv2.warpAffine computes it (a singular matrix gives all zeros, as in OpenCV)."""
    m = np.asarray(matrix, dtype=np.float64).reshape(6)
    with np.errstate(all="ignore"):  # near-singular input: inf/NaN follow IEEE exactly as in OpenCV
        d = m[0] * m[4] - m[1] * m[3]
        d = np.float64(1.0) / d if d != 0 else np.float64(0.0)
        a11, a22 = m[4] * d, m[0] * d
        a12, a21 = m[1] * -d, m[3] * -d
        b1 = -a11 * m[2] - a12 * m[5]
        b2 = -a21 * m[2] - a22 * m[5]
    return np.array([[a11, a12, b1], [a21, a22, b2]], dtype=np.float64)


_INT_MIN = -(1 << 31)


def _cv_round(v: np.ndarray) -> np.ndarray:
    """cvRound on x86: round half to even to int32; NaN or out-of-range gives INT_MIN (cvtsd2si's 'indefinite').

    Only pathological (near-singular) matrices reach the overflow cases; ARM builds of OpenCV saturate instead.
    """
    with np.errstate(invalid="ignore"):
        r = np.rint(v)
        bad = ~np.isfinite(r) | (r < _INT_MIN) | (r > -_INT_MIN - 1)
    return np.where(bad, _INT_MIN, np.where(bad, 0, r)).astype(np.int64)


def _wrap32(v: np.ndarray) -> np.ndarray:
    """Two's-complement int32 wrap-around of int64 values (OpenCV adds the offsets in int32)."""
    return ((v - _INT_MIN) & 0xFFFFFFFF) + _INT_MIN


def _fixed_point_coords(matrix: np.ndarray, out_h: int, out_w: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) int64 [H, W]: source coordinates in 1/32 pixels of every output pixel (PROTOCOLS.md §10)."""
    inv = invert_affine(matrix)
    xs = np.arange(out_w, dtype=np.float64)
    ys = np.arange(out_h, dtype=np.float64)
    scale = float(1 << AB_BITS)
    with np.errstate(all="ignore"):
        adelta = _cv_round(inv[0, 0] * xs * scale)
        bdelta = _cv_round(inv[1, 0] * xs * scale)
        x0 = _wrap32(_cv_round((inv[0, 1] * ys + inv[0, 2]) * scale) + ROUND_DELTA)
        y0 = _wrap32(_cv_round((inv[1, 1] * ys + inv[1, 2]) * scale) + ROUND_DELTA)
    shift = AB_BITS - INTER_BITS
    big_x = _wrap32(x0[:, None] + adelta[None, :]) >> shift
    big_y = _wrap32(y0[:, None] + bdelta[None, :]) >> shift
    return big_x, big_y


def warp_affine_fixed_point(
    images: torch.Tensor,
    matrices: np.ndarray,
    *,
    output_size: tuple[int, int],
    image_index: Sequence[int] | None = None,
    image_sizes: Sequence[tuple[int, int]] | None = None,
) -> torch.Tensor:
    """Crops uint8 [N, C, H, W] of images uint8 [U, C, Hs, Ws] (zero-padded to a common size) by matrices [N, 2, 3].

    image_index[n] says which image crop n reads (default n); image_sizes[u] is image u's real (H, W) inside the
    padded batch (default the full tensor size). Runs on images.device; output_size is (H, W).
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"images must be uint8 [U, C, H, W], got {images.dtype} {tuple(images.shape)}")
    mats = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    n = len(mats)
    u, c, hs, ws = images.shape
    idx = list(range(n)) if image_index is None else [int(i) for i in image_index]
    sizes = [(hs, ws)] * u if image_sizes is None else [(int(h), int(w)) for h, w in image_sizes]
    out_h, out_w = output_size
    coords = [_fixed_point_coords(m, out_h, out_w) for m in mats]
    big_x = np.stack([cx for cx, _ in coords])  # [N, H, W]
    big_y = np.stack([cy for _, cy in coords])
    # OpenCV stores the integer part as a saturated short.
    sx = np.clip(big_x >> INTER_BITS, -32768, 32767)
    sy = np.clip(big_y >> INTER_BITS, -32768, 32767)
    fx = big_x & (INTER_TAB - 1)
    fy = big_y & (INTER_TAB - 1)
    bounds = np.array([sizes[i] for i in idx], dtype=np.int64).reshape(n, 1, 1, 2)

    dev = images.device
    flat = images.reshape(u, c, hs * ws)
    src = flat[torch.as_tensor(idx, dtype=torch.long, device=dev)]  # [N, C, Hs*Ws] view-gather of the images
    fx_t = torch.as_tensor(fx, device=dev, dtype=torch.int32)
    fy_t = torch.as_tensor(fy, device=dev, dtype=torch.int32)
    weights = (
        ((INTER_TAB - fy_t) * (INTER_TAB - fx_t), 0, 0),
        ((INTER_TAB - fy_t) * fx_t, 0, 1),
        (fy_t * (INTER_TAB - fx_t), 1, 0),
        (fy_t * fx_t, 1, 1),
    )
    acc = torch.zeros((n, c, out_h, out_w), dtype=torch.int32, device=dev)
    for w, dy, dx in weights:
        col = sx + dx
        row = sy + dy
        inside = (col >= 0) & (row >= 0) & (col < bounds[..., 1]) & (row < bounds[..., 0])
        lin = np.where(inside, row * ws + col, 0).reshape(n, 1, out_h * out_w)
        lin_t = torch.as_tensor(lin, device=dev, dtype=torch.long).expand(n, c, out_h * out_w)
        vals = torch.gather(src, 2, lin_t).to(torch.int32).reshape(n, c, out_h, out_w)
        mask = torch.as_tensor(inside, device=dev).unsqueeze(1)
        # Weights (32-fy)(32-fx) etc. times 32 on the 1/32 grid sum to 32768 = 1 << 15.
        acc += torch.where(mask, vals * (w * INTER_TAB).unsqueeze(1), 0)
    return ((acc + (1 << (COEF_BITS - 1))) >> COEF_BITS).to(torch.uint8)
