"""Flip-test combination of top-down heatmaps (PROTOCOLS.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def flip_back(flipped: np.ndarray, *, flip_pairs: Sequence[tuple[int, int]], shift: bool) -> np.ndarray:
    """Heatmaps of the flipped input [N, K, H, W] brought back to the original frame (float32, new array).

    PROTOCOLS.md §3: swap the channels of each flip pair, mirror along width, then (shift_heatmap) shift right by
    one column: new[..., x] = old[..., x - 1] for x >= 1, column 0 keeps its own value. Horse-10 has no pairs.
    """
    hm = np.array(flipped, dtype=np.float32, copy=True)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be [N, K, H, W], got shape {hm.shape}")
    for a, b in flip_pairs:
        hm[:, [a, b]] = hm[:, [b, a]]
    hm = hm[..., ::-1].copy()
    if shift:
        hm[..., 1:] = hm[..., :-1].copy()
    return hm


def combine_flip(
    heatmaps: np.ndarray, flipped: np.ndarray, *, flip_pairs: Sequence[tuple[int, int]], shift: bool
) -> np.ndarray:
    """(orig + flip_back(flipped)) / 2 in float32 [N, K, H, W] (PROTOCOLS.md §3)."""
    back = flip_back(flipped, flip_pairs=flip_pairs, shift=shift)
    return (np.asarray(heatmaps, dtype=np.float32) + back) * np.float32(0.5)
