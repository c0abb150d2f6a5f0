"""Per-keypoint loops of the DARK / UDP decoders (PROTOCOLS.md §3.1), the shape of MMPose 0.29's code: the
references harness.topdown.unbiased's vectorised versions are compared with (tests/harness/topdown/test_unbiased.py).

Each map is blurred alone and each keypoint refined alone, with NumPy 1.x's scalar promotion written out (a float32
scalar times a Python float is float64 there).
"""

from __future__ import annotations

import cv2
import numpy as np

from harness.topdown.decode import argmax_peaks


def dark_loop(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """coords [N, K, 2] float32 of DARK, one map and one keypoint at a time."""
    hm = np.array(heatmaps, dtype=np.float32, copy=True)
    coords, _ = argmax_peaks(hm)
    n, k, h, w = hm.shape
    b = (kernel - 1) // 2
    for i in range(n):
        for j in range(k):
            peak = hm[i, j].max()
            canvas = np.zeros((h + 2 * b, w + 2 * b), np.float32)
            canvas[b:-b, b:-b] = hm[i, j]
            blurred = cv2.GaussianBlur(canvas, (kernel, kernel), 0)[b:-b, b:-b]
            hm[i, j] = blurred * (peak / blurred.max())
    logs = np.log(np.maximum(hm, np.float32(1e-10)))
    for i in range(n):
        for j in range(k):
            m, (x, y) = logs[i, j], coords[i, j].astype(int)
            if not (1 < x < w - 2 and 1 < y < h - 2):
                continue
            f = np.float64
            dx = 0.5 * f(m[y, x + 1] - m[y, x - 1])
            dy = 0.5 * f(m[y + 1, x] - m[y - 1, x])
            dxx = 0.25 * (f(m[y, x + 2]) - 2 * f(m[y, x]) + f(m[y, x - 2]))
            dyy = 0.25 * (f(m[y + 2, x]) - 2 * f(m[y, x]) + f(m[y - 2, x]))
            dxy = 0.25 * f(m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
            if dxx * dyy - dxy**2 != 0:
                step = -np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([dx, dy])
                coords[i, j] = (coords[i, j].astype(f) + step).astype(np.float32)
    return coords


def udp_loop(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """coords [N, K, 2] float32 of UDP's refinement, one keypoint at a time (peaks at (-1, -1) are skipped: their
    value depends on the neighbouring map, see harness.topdown.unbiased)."""
    hm = np.array(heatmaps, dtype=np.float32, copy=True)
    coords, _ = argmax_peaks(hm)
    n, k = hm.shape[:2]
    for i in range(n):
        for j in range(k):
            m = np.log(np.clip(cv2.GaussianBlur(hm[i, j], (kernel, kernel), 0), np.float32(0.001), np.float32(50)))
            p = np.pad(m, 1, mode="edge")
            x, y = coords[i, j].astype(int) + 1
            if coords[i, j, 0] < 0:
                continue
            c, xp, xm, yp, ym = p[y, x], p[y, x + 1], p[y, x - 1], p[y + 1, x], p[y - 1, x]
            half = np.float32(0.5)
            grad = np.array([half * (xp - xm), half * (yp - ym)])
            dxy = half * (p[y + 1, x + 1] - xp - yp + c + c - xm - ym + p[y - 1, x - 1])
            hess = np.array([[xp - 2 * c + xm, dxy], [dxy, yp - 2 * c + ym]], np.float32)
            inv = np.linalg.inv(hess + np.finfo(np.float32).eps * np.eye(2))
            coords[i, j] = (coords[i, j] - inv @ grad.astype(np.float64)).astype(np.float32)
    return coords


def combined_loop(outputs: np.ndarray, kernel: int, radius_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(coords [N, K, 2], maxvals [N, K]) of CombinedTarget outputs [N, 3K, H, W], one keypoint at a time."""
    out = np.array(outputs, dtype=np.float32, copy=True)
    n, c, h = out.shape[:3]
    for i in range(n):
        for ch in range(c):
            size = 2 * kernel + 1 if ch % 3 == 0 else kernel
            out[i, ch] = cv2.GaussianBlur(out[i, ch], (size, size), 0)
    coords, maxvals = argmax_peaks(out[:, 0::3])
    radius = np.float32(radius_factor * h)
    for i in range(n):
        for j in range(c // 3):
            x, y = coords[i, j].astype(int)
            if x >= 0:
                coords[i, j] += np.array([out[i, 3 * j + 1, y, x], out[i, 3 * j + 2, y, x]]) * radius
    return coords, maxvals
