"""Box -> (center, scale) of the top-down crop (PROTOCOLS.md §3, pixel std 200)."""

from __future__ import annotations

import numpy as np

PIXEL_STD = 200.0


def bbox_to_center_scale(
    bboxes: np.ndarray, *, input_size: tuple[int, int], padding: float, scale_rounding: str = "ratio"
) -> tuple[np.ndarray, np.ndarray]:
    """(center [N, 2] float32, scale [N, 2] float32) of boxes [N, 4] (x, y, w, h); input_size is (H, W).

    PROTOCOLS.md §3: center = (x + w/2, y + h/2) (no -1 / 0.5 offsets); the box is widened or heightened to the
    input's aspect W/H; scale = (w/200, h/200) rounded to float32, then times padding in float32 (the order of the
    model-zoo-era dataset code, scale_rounding="ratio"). mmpose 0.29 (`bbox_xywh2cs`, scale_rounding="size")
    rounds the aspect-fixed (w, h) to float32 first and divides by 200 in float32: up to 1 ulp apart
    (`Era.box_scale_rounding`, docs/PARITY.md). Example: (100, 50, 80, 200) at (256, 192) -> (140, 150),
    (0.9375, 1.25).
    """
    if scale_rounding not in ("ratio", "size"):
        raise ValueError(f"scale_rounding must be 'ratio' or 'size', got {scale_rounding!r}")
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = boxes.T
    aspect = input_size[1] / input_size[0]
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=1).astype(np.float32)
    # Python-float semantics of the reference, vectorised: strictly wider -> raise h, strictly taller -> widen w.
    wide = w > aspect * h
    tall = w < aspect * h
    h = np.where(wide, w * 1.0 / aspect, h)
    w = np.where(tall, h * aspect, w)
    if scale_rounding == "ratio":
        scale = np.stack([w / PIXEL_STD, h / PIXEL_STD], axis=1).astype(np.float32)
    else:
        scale = np.stack([w, h], axis=1).astype(np.float32) / np.float32(PIXEL_STD)
    scale = scale * np.float32(padding)
    return center, scale


def padded_box_area(scale: np.ndarray) -> np.ndarray:
    """[N] float32 area of the padded, aspect-fixed box: prod(scale * 200) in float32 (PROTOCOLS.md §3)."""
    s = np.asarray(scale, dtype=np.float32).reshape(-1, 2) * np.float32(PIXEL_STD)
    return (s[:, 0] * s[:, 1]).astype(np.float32)
