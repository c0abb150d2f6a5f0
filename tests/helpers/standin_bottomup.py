"""A ground-truth stand-in for the bottom-up models: it "predicts" the annotated keypoints of one image.

Used by the geometry self-test of the bottom-up pipeline (tests/harness/bottomup): if resize, flip handling, stage
and scale aggregation, grouping and the projection back to image pixels are consistent, the stand-in's results
score near-perfectly against the same annotations.

Heatmaps are Gaussians at the GT keypoints mapped into each scale's input with that scale's resize affine
(PROTOCOLS.md §4), rendered at the head's output strides (AE: 4; HigherHRNet: 4 and 2). Tags are perfectly
separated: every pixel of joint channel k carries the tag of the person whose joint k is nearest, person p's tag
being (p + 1) * tag_spacing.

Coordinate convention: the decoder reads a peak at pixel p as p + 0.5 (adjust, PROTOCOLS.md §4 step 4), i.e. pixel
p covers [p, p + 1). The stand-in uses the same convention: an input coordinate u lies in output pixel floor(u / s),
whose centre is u / s - 0.5 in output-pixel indices; a horizontal flip maps u to W - u.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from harness.bottomup.resize import ScaleGeometry, ScalePlan, affine_matrix, resize_image, to_input_tensor
from harness.errors import HarnessError

Head = Literal["associative_embedding", "higher_resolution"]
_STRIDES: dict[str, tuple[int, ...]] = {"associative_embedding": (4,), "higher_resolution": (4, 2)}


def gt_keypoints(annotations: Sequence[Mapping], *, num_keypoints: int) -> np.ndarray:
    """[P, K, 3] float64 (x, y, v) of the non-crowd annotations with at least one labelled joint (v > 0)."""
    rows = []
    for ann in annotations:
        kpts = np.asarray(ann.get("keypoints", []), dtype=np.float64).reshape(-1, 3)
        if ann.get("iscrowd", 0) or kpts.shape[0] != num_keypoints or not (kpts[:, 2] > 0).any():
            continue
        rows.append(kpts)
    return np.stack(rows) if rows else np.zeros((0, num_keypoints, 3))


class BottomUpStandIn(nn.Module):
    """forward(x [1, 3, H_t, W_t]) -> the head's list of outputs for one known image.

    image_rgb: uint8 [h, w, 3]; keypoints: [P, K, 3] (x, y, v) in image pixels (v > 0 rendered); plan: the image's
    ScalePlan. The input must be one of the plan's scale inputs or its horizontal flip (checked exactly, so the
    test also proves that inference feeds what PROTOCOLS.md §4 prescribes); the output then shows the joints as
    the flipped image does: positions mirrored and channel k holding joint flip_index[k].
    """

    def __init__(
        self,
        image_rgb: np.ndarray,
        keypoints: np.ndarray,
        *,
        plan: ScalePlan,
        head: Head,
        flip_index: Sequence[int],
        sigma: float = 1.0,
        tag_spacing: float = 10.0,
    ) -> None:
        super().__init__()
        if head not in _STRIDES:
            raise HarnessError(f"stand-in head must be one of {sorted(_STRIDES)}, got {head!r}")
        self.image = image_rgb
        self.keypoints = np.asarray(keypoints, dtype=np.float64)
        self.plan = plan
        self.strides = _STRIDES[head]
        self.flip_index = list(flip_index)
        self.sigma = float(sigma)
        self.tag_spacing = float(tag_spacing)
        self._inputs: dict[tuple[int, int], tuple[ScaleGeometry, torch.Tensor]] = {}
        for geom in plan.scales:
            self._inputs[geom.size_hw] = (geom, to_input_tensor(resize_image(image_rgb, geom)))

    def _which(self, x: torch.Tensor) -> tuple[ScaleGeometry, bool]:
        size = (int(x.shape[2]), int(x.shape[3]))
        if size not in self._inputs:
            raise HarnessError(f"stand-in got an input of size {size}; the plan's sizes are {list(self._inputs)}")
        geom, expected = self._inputs[size]
        x = x.detach().cpu()
        if torch.equal(x, expected):
            return geom, False
        if torch.equal(x, torch.flip(expected, dims=[3])):
            return geom, True
        raise HarnessError(f"stand-in input of size {size} is neither the resized image nor its horizontal flip")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        geom, flipped = self._which(x)
        h_t, w_t = geom.size_hw
        m = affine_matrix(geom)
        pts = self.keypoints[..., :2] @ m[:, :2].T + m[:, 2]  # [P, K, 2] input coordinates
        visible = self.keypoints[..., 2] > 0
        if flipped:
            pts = pts[:, self.flip_index].copy()
            visible = visible[:, self.flip_index]
            pts[..., 0] = w_t - pts[..., 0]
        outs = []
        for i, s in enumerate(self.strides):
            heat, tags = self._render(pts / s - 0.5, visible, (h_t // s, w_t // s))
            outs.append(torch.cat([heat, tags], dim=1) if i == 0 else heat)
        return [o.to(x.device) for o in outs]

    def _render(
        self, centres: np.ndarray, visible: np.ndarray, size_hw: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps and tags [1, K, H, W] float32 for joint centres [P, K, 2] in output-pixel indices."""
        k = visible.shape[1]
        h, w = size_hw
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        heat = np.zeros((k, h, w), dtype=np.float64)
        tags = np.zeros((k, h, w), dtype=np.float64)
        radius2 = (3 * self.sigma + 1) ** 2
        for j in range(k):
            people = np.flatnonzero(visible[:, j])
            if people.size == 0:
                continue
            d2 = (xx[None] - centres[people, j, 0, None, None]) ** 2 + (
                yy[None] - centres[people, j, 1, None, None]
            ) ** 2
            g = np.where(d2 <= radius2, np.exp(-d2 / (2 * self.sigma**2)), 0.0)
            heat[j] = g.max(axis=0)
            tags[j] = (people[np.argmin(d2, axis=0)] + 1) * self.tag_spacing
        return (
            torch.from_numpy(heat.astype(np.float32))[None],
            torch.from_numpy(tags.astype(np.float32))[None],
        )
