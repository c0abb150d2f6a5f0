"""Affine crop of the top-down input (PROTOCOLS.md §3) with OpenCV, plus normalisation (PROTOCOLS.md §2.3).

The integer-exact torch twin of the OpenCV warp lives in `harness.topdown.warp`.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from harness.topdown.boxes import PIXEL_STD

#: PROTOCOLS.md §2.3: ImageNet mean/std applied to RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b + perp(a - b) with perp(v) = (-v_y, v_x), in float32 (PROTOCOLS.md §3)."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def affine_matrix(center: np.ndarray, scale: np.ndarray, *, output_size: tuple[int, int]) -> np.ndarray:
    """[2, 3] float64 image -> input matrix of one box; output_size is (H, W).

    PROTOCOLS.md §3: three float32 point pairs through cv2.getAffineTransform: the box centre -> (W/2, H/2); the
    point half the scaled box WIDTH above it -> (W/2, H/2 - W/2); the third is b + perp(a - b) in both spaces.
    Only scale[0] is used; rotation is 0 at test time. Example: c (140, 150), s (0.9375, 1.25), (256, 192) ->
    [[1.024, 0, -47.36], [0, 1.024, -25.6]].
    """
    out_h, out_w = output_size
    c = np.asarray(center, dtype=np.float32).reshape(2)
    src_w = np.float32(np.asarray(scale, dtype=np.float32).reshape(2)[0] * np.float32(PIXEL_STD))
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = c
    src[1] = c + np.array([0.0, src_w * np.float32(-0.5)], dtype=np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, out_w * -0.5], dtype=np.float32)
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


def affine_matrices(centers: np.ndarray, scales: np.ndarray, *, output_size: tuple[int, int]) -> np.ndarray:
    """[N, 2, 3] float64 matrices of centers [N, 2] and scales [N, 2]."""
    centers = np.asarray(centers, dtype=np.float32).reshape(-1, 2)
    scales = np.asarray(scales, dtype=np.float32).reshape(-1, 2)
    out = np.zeros((len(centers), 2, 3), dtype=np.float64)
    for i in range(len(centers)):
        out[i] = affine_matrix(centers[i], scales[i], output_size=output_size)
    return out


def udp_affine_matrices(centers: np.ndarray, scales: np.ndarray, *, output_size: tuple[int, int]) -> np.ndarray:
    """[N, 2, 3] float64 image -> input matrices of UDP (PROTOCOLS.md §3.1), rotation 0: per axis the factor
    a = (size - 1) / (scale * 200) maps the box of size scale * 200 onto pixels 0 .. size - 1, and the offset is
    a * (scale * 200 / 2 - center). a and the offset are float64 from float32 inputs, stored as float32 (the
    reference's matrix dtype); the off-diagonal terms are -0.0 and 0.0 as cos/sin of 0 give them.
    """
    c = np.asarray(centers, dtype=np.float32).reshape(-1, 2).astype(np.float64)
    size = (np.asarray(scales, dtype=np.float32).reshape(-1, 2) * np.float32(PIXEL_STD)).astype(np.float64)
    out_h, out_w = output_size
    a = np.array([out_w - 1.0, out_h - 1.0]) / size
    shift = a * ((-c + 0.0) + 0.5 * size)
    m = np.zeros((len(c), 2, 3), dtype=np.float32)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a[:, 0], -0.0, shift[:, 0]
    m[:, 1, 1], m[:, 1, 2] = a[:, 1], shift[:, 1]
    return m.astype(np.float64)


def crop_cv2(image: np.ndarray, matrix: np.ndarray, *, output_size: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, 3] crop of an RGB uint8 image: cv2.warpAffine INTER_LINEAR, constant border 0 (PROTOCOLS.md §3)."""
    out_h, out_w = output_size
    return cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def normalize_crops(crops: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] RGB -> float32 [N, 3, H, W]: /255 then (x - mean) / std (PROTOCOLS.md §2.3).

    Same float32 operations as ToTensor + NormalizeTensor, on whatever device the crops are.
    """
    x = crops.to(torch.float32).div(255)
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.as_tensor(IMAGENET_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return x.sub(mean).div(std)
