"""The result of top-down inference: one row per instance, arrays in instance order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class TopdownOutput:
    """Predictions of N instances (struct of arrays; row i belongs to the i-th input instance).

    keypoints: [N, K, 3] float32 (x, y, maxval) in image pixels; centers, scales: [N, 2] float32;
    areas: [N] float32 padded-box area (PROTOCOLS.md §3); bbox_scores: [N] float32 (the reference stores them in a
    float32 array); bbox_ids, image_ids: [N] int64.
    """

    keypoints: np.ndarray
    centers: np.ndarray
    scales: np.ndarray
    areas: np.ndarray
    bbox_scores: np.ndarray
    bbox_ids: np.ndarray
    image_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)

    def __post_init__(self) -> None:
        n = len(self.keypoints)
        for name in ("centers", "scales", "areas", "bbox_scores", "bbox_ids", "image_ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"TopdownOutput.{name} has {len(getattr(self, name))} rows, keypoints has {n}")

    def take(self, index: np.ndarray) -> TopdownOutput:
        """The rows at index (an int array or boolean mask), in that order."""
        return TopdownOutput(*(getattr(self, f)[index] for f in self.__dataclass_fields__))
