"""MPII's PCKh ground truth (.mat) built for the persons of an MPII json file (the sample has none): the fields MPII's
`mpii_gt_val.mat` holds, with the shapes and types scipy.io gives for it.

GT joints are the json's (MATLAB 1-based pixels), missing = 1 - joints_vis, and each head box is the rectangle
spanned by the upper neck and the head top, widened by `margin` pixels on each side (the real file has hand-drawn
head rectangles; any box with a positive diagonal exercises the same arithmetic).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.io import savemat

from harness.metrics.pckh import MAT_JOINTS

UPPER_NECK, HEAD_TOP = 8, 9


def joint_names_cell(names=MAT_JOINTS) -> np.ndarray:
    """A 1 x K MATLAB cell array of strings, as `dataset_joints` is stored."""
    cell = np.empty((1, len(names)), dtype=object)
    for i, name in enumerate(names):
        cell[0, i] = np.array([name])
    return cell


def gt_fields(ann_file: Path, *, margin: float = 5.0) -> dict[str, np.ndarray]:
    records = json.loads(Path(ann_file).read_text())
    joints = np.array([r["joints"] for r in records], dtype=np.float64)  # [N, K, 2]
    vis = np.array([r["joints_vis"] for r in records], dtype=np.float64)  # [N, K]
    ends = joints[:, [UPPER_NECK, HEAD_TOP]]  # [N, 2, 2]
    boxes = np.stack([ends.min(axis=1) - margin, ends.max(axis=1) + margin], axis=1)  # [N, corner, xy]
    return {
        "dataset_joints": joint_names_cell(),
        "jnt_missing": (1 - vis).T,  # [K, N]
        "pos_gt_src": joints.transpose(1, 2, 0),  # [K, 2, N]
        "headboxes_src": boxes.transpose(1, 2, 0),  # [2, 2, N]
    }


def write_gt_mat(ann_file: Path, out: Path, **fields) -> Path:
    """Write the .mat for `ann_file`'s persons (fields given here replace or add to the built ones)."""
    savemat(str(out), {**gt_fields(ann_file), **fields})
    return out
