"""'default' top-down heatmap decode (PROTOCOLS.md §3 steps 1-3): argmax, quarter offset, back to the image."""

from __future__ import annotations

import numpy as np

from harness.topdown.boxes import PIXEL_STD


def argmax_peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coords [N, K, 2] float32 (x, y), maxvals [N, K] float32) of heatmaps [N, K, H, W].

    PROTOCOLS.md §3 step 1: first maximum of the flattened map; maxval <= 0 -> location (-1, -1).
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    n, k, _, w = hm.shape
    flat = hm.reshape(n, k, -1)
    idx = np.argmax(flat, axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    coords = np.where((maxvals > 0)[..., None], coords, np.float32(-1))
    return coords, maxvals


def quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Coords [N, K, 2] moved 0.25 towards the higher neighbour (float32, new array).

    PROTOCOLS.md §3 step 2: only when 1 < px < W-1 and 1 < py < H-1 (peaks at index 0, 1 or size-1 stay put);
    the direction is sign(hm[py][px+1] - hm[py][px-1]) (float32 difference) with sign(0) = 0; same for y.
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    n, k, h, w = hm.shape
    out = np.array(coords, dtype=np.float32, copy=True)
    px = out[..., 0].astype(np.int64)  # int() of the float coordinate, as the reference
    py = out[..., 1].astype(np.int64)
    ok = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    pxc = np.where(ok, px, 2)  # any in-range index; masked out below
    pyc = np.where(ok, py, 2)
    ni, ki = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
    dx = hm[ni, ki, pyc, pxc + 1] - hm[ni, ki, pyc, pxc - 1]
    dy = hm[ni, ki, pyc + 1, pxc] - hm[ni, ki, pyc - 1, pxc]
    step = np.stack([np.sign(dx), np.sign(dy)], axis=-1).astype(np.float64) * 0.25
    out += np.where(ok[..., None], step, 0.0).astype(np.float32)
    return out


def transform_preds(
    coords: np.ndarray, centers: np.ndarray, scales: np.ndarray, *, heatmap_size: tuple[int, int], udp: bool = False
) -> np.ndarray:
    """Heatmap coords [N, K, 2] -> image coords [N, K, 2] float32; heatmap_size is (H, W).

    PROTOCOLS.md §3 step 3 (non-UDP): S = scale * 200; x = px * S_w / W_h + c_x - S_w / 2 (same for y), in float32;
    heatmap index i maps to input pixel 4i, no half-pixel term and no (size - 1). udp (PROTOCOLS.md §3.1): the
    factor is S_w / (W_h - 1), so that the first and last heatmap pixels land on the box's edges.
    """
    hm_h, hm_w = (size - 1 if udp else size for size in heatmap_size)
    c = np.asarray(centers, dtype=np.float32).reshape(-1, 1, 2)
    s = np.asarray(scales, dtype=np.float32).reshape(-1, 1, 2) * np.float32(PIXEL_STD)
    # The per-axis factor is S / size rounded to float32 (numpy promotes the scalar division, then casts).
    factor = (s.astype(np.float64) / np.array([hm_w, hm_h], dtype=np.float64)).astype(np.float32)
    xy = np.asarray(coords, dtype=np.float32) * factor
    xy = xy + c
    return (xy - s * np.float32(0.5)).astype(np.float32)


def decode_default(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Keypoints [N, K, 3] float32 (x, y, maxval) of heatmaps [N, K, H, W] for boxes centers/scales [N, 2]."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    coords, maxvals = argmax_peaks(hm)
    coords = quarter_offset(hm, coords)
    xy = transform_preds(coords, centers, scales, heatmap_size=hm.shape[2:])
    return np.concatenate([xy, maxvals[..., None]], axis=-1).astype(np.float32)
