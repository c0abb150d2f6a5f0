"""A ground-truth stand-in for a top-down model, to check crop, flip, decode and the inverse mapping end to end.

`GTHeatmapStandIn` renders, for every crop, the heatmaps a perfect model would output: one Gaussian (sigma 2 in
heatmap pixels) per labelled GT joint, at the joint's position mapped through the crop's affine matrix and divided
by the stride (heatmap coords = input coords / 4, the training-target convention; PROTOCOLS.md §3). For the flipped
input it renders what a perfect model sees there: every joint mirrored (x -> W - 1 - x) and labelled as its flip
partner. The inference loop hands it the geometry through `forward_with_meta(x, meta)`; a real network has no such
method and is called as `model(x)`, so the real path carries no test-only code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from harness.data.records import TopdownInstance


class GTHeatmapStandIn(torch.nn.Module):
    """Perfect-model stand-in: heatmaps [B, K, H/stride, W/stride] from the GT keypoints of each instance.

    Instances without keypoints (unmatched detector boxes) and joints with v <= 0 or outside the heatmap get an
    all-zero map (decoded with maxval 0, as a model's "nothing here").
    """

    def __init__(self, num_keypoints: int, *, sigma: float = 2.0, stride: int = 4) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.sigma = sigma
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError(
            "GTHeatmapStandIn needs the crop geometry: run it through harness.topdown.inference.predict_topdown, "
            "which calls forward_with_meta(x, meta)"
        )

    def forward_with_meta(self, x: torch.Tensor, meta) -> torch.Tensor:  # meta: harness.topdown.inference.CropMeta
        b, _, h, w = x.shape
        hh, hw = h // self.stride, w // self.stride
        flip_index = np.arange(self.num_keypoints)
        for a, c in meta.flip_pairs:
            flip_index[a], flip_index[c] = c, a
        out = np.zeros((b, self.num_keypoints, hh, hw), dtype=np.float32)
        ys, xs = np.mgrid[0:hh, 0:hw].astype(np.float64)
        for i, inst in enumerate(meta.instances):
            if inst.keypoints is None:
                continue
            kp = np.asarray(inst.keypoints, dtype=np.float64)
            pts = kp[:, :2] @ meta.matrices[i][:, :2].T + meta.matrices[i][:, 2]  # input pixels
            if meta.flipped:
                pts[:, 0] = w - 1 - pts[:, 0]
            mu = pts / self.stride
            for k in range(self.num_keypoints):
                mx, my = mu[k]
                if kp[k, 2] <= 0 or not (0 <= mx <= hw - 1 and 0 <= my <= hh - 1):
                    continue
                channel = flip_index[k] if meta.flipped else k
                g = np.exp(-((xs - mx) ** 2 + (ys - my) ** 2) / (2 * self.sigma**2))
                out[i, channel] = g.astype(np.float32)
        return torch.from_numpy(out).to(x.device)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def attach_gt_keypoints(
    detections: Sequence[TopdownInstance], gt: Sequence[TopdownInstance], *, min_iou: float = 0.5
) -> tuple[TopdownInstance, ...]:
    """Detector instances with the keypoints of their best-IoU GT instance of the same image (>= min_iou), else
    unchanged (keypoints None). Lets the GT stand-in run on detector boxes."""
    by_image: dict[int, list[TopdownInstance]] = {}
    for g in gt:
        by_image.setdefault(g.image_id, []).append(g)
    out = []
    for det in detections:
        cands = [(_iou(det.bbox, g.bbox), j) for j, g in enumerate(by_image.get(det.image_id, []))]
        best = max(cands, default=(0.0, -1))
        if best[0] >= min_iou:
            match = by_image[det.image_id][best[1]]
            out.append(replace(det, keypoints=match.keypoints, annotation_id=match.annotation_id))
        else:
            out.append(det)
    return tuple(out)
