"""Flip-test combination of top-down heatmaps (PROTOCOLS.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def flip_back(
    flipped: np.ndarray, *, flip_pairs: Sequence[tuple[int, int]], shift: bool, combined: bool = False
) -> np.ndarray:
    """Heatmaps of the flipped input [N, K, H, W] brought back to the original frame (new array, float32, or
    float16 for fp16 outputs: PROTOCOLS.md §3.2).

    PROTOCOLS.md §3: swap the channels of each flip pair, mirror along width, then (shift_heatmap) shift right by
    one column: new[..., x] = old[..., x - 1] for x >= 1, column 0 keeps its own value. Horse-10 has no pairs.
    combined (CombinedTarget, [N, 3K, H, W], PROTOCOLS.md §3.1): joint j owns channels 3j..3j+2 (heatmap, x offset,
    y offset); the x offsets change sign and the pairs swap whole triples.
    """
    dtype = np.float16 if np.asarray(flipped).dtype == np.float16 else np.float32
    hm = np.array(flipped, dtype=dtype, copy=True)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be [N, K, H, W], got shape {hm.shape}")
    per_joint = 3 if combined else 1
    if combined:
        hm[:, 1::3] = -hm[:, 1::3]
    for a, b in flip_pairs:
        ca, cb = range(a * per_joint, (a + 1) * per_joint), range(b * per_joint, (b + 1) * per_joint)
        hm[:, [*ca, *cb]] = hm[:, [*cb, *ca]]
    hm = hm[..., ::-1].copy()
    if shift:
        hm[..., 1:] = hm[..., :-1].copy()
    return hm


def combine_flip(
    heatmaps: np.ndarray,
    flipped: np.ndarray,
    *,
    flip_pairs: Sequence[tuple[int, int]],
    shift: bool,
    combined: bool = False,
) -> np.ndarray:
    """(orig + flip_back(flipped)) / 2 [N, K, H, W] (PROTOCOLS.md §3), in float32, or in float16 when both are
    float16 (fp16 models: the reference averages their half outputs, PROTOCOLS.md §3.2)."""
    back = flip_back(flipped, flip_pairs=flip_pairs, shift=shift, combined=combined)
    dtype = back.dtype if np.asarray(heatmaps).dtype == back.dtype else np.dtype(np.float32)
    return (np.asarray(heatmaps, dtype=dtype) + back.astype(dtype)) * dtype.type(0.5)
