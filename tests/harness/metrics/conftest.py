"""Fixtures for the metric tests: sample annotation files, OKS sigmas (PROTOCOLS.md §5), prediction generators and
the raw xtcocotools reference (used exactly as MMPose 0.x calls it: COCO(file), loadRes, COCOeval(..., sigmas,
use_area), evaluate/accumulate/summarize)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

COCO_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087,
               0.087, 0.089, 0.089]  # fmt: skip
#: PROTOCOLS.md §5: (sample file, sigmas, use_area) of the COCO-style datasets.
DATASETS = {
    "aic": ("aic/test_aic.json", [0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
                                  0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173],
            False),
    "coco": ("coco/test_coco.json", COCO_SIGMAS, True),
    "macaque": ("macaque/test_macaque.json", COCO_SIGMAS, True),
    "atrw": ("atrw/test_atrw.json", [0.0277, 0.0823, 0.0831, 0.0202, 0.0716, 0.0263, 0.0646, 0.0302, 0.0440, 0.0316,
                                     0.0333, 0.0547, 0.0263, 0.0683, 0.0539], True),
}  # fmt: skip
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
#: Noise levels as a fraction of sqrt(GT bbox area): exact, near, mid, far, lost.
NOISE_LEVELS = (0.0, 0.005, 0.02, 0.06, 0.2)


def perturbed_predictions(gt: dict[str, Any], *, seed: int, all_zero_fraction: float = 0.0) -> list[dict[str, Any]]:
    """Predictions made from GT keypoints with seeded noise of several magnitudes, random (partly tied) scores,
    dropped and duplicated instances, spurious poses, and about a third of the images left without predictions.
    Unlabelled joints are put near the box centre, as a model would. `all_zero_fraction` of the predictions get all
    keypoint scores exactly 0 (xtcocotools drops those)."""
    rng = np.random.default_rng(seed)
    image_ids = [img["id"] for img in gt["images"]]
    silent = set(rng.choice(image_ids, size=len(image_ids) // 3, replace=False).tolist())
    k = len(gt["annotations"][0]["keypoints"]) // 3
    preds: list[dict[str, Any]] = []

    def pose(ann: dict[str, Any], level: float) -> np.ndarray:
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3)
        x, y, w, h = ann["bbox"]
        xy = np.where(kp[:, 2:3] > 0, kp[:, :2], [x + w / 2, y + h / 2])
        xy = xy + rng.normal(0.0, level * np.sqrt(max(w * h, 1.0)), size=(k, 2))
        scores = rng.uniform(0.05, 1.0, size=k)
        scores[rng.random(k) < 0.1] = 0.0
        if rng.random() < all_zero_fraction:
            scores[:] = 0.0
        elif not scores.any():
            scores[0] = 0.5
        return np.concatenate([xy, scores[:, None]], axis=1)

    def score() -> float:
        s = float(rng.uniform(0.0, 1.0))
        return round(s, 1) if rng.random() < 0.5 else s  # ties exercise the stable sort

    for ann in gt["annotations"]:
        if ann["image_id"] in silent or rng.random() < 0.15:
            continue
        level = float(rng.choice(NOISE_LEVELS))
        preds.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": pose(ann, level).ravel().tolist(),
                      "score": score()})  # fmt: skip
        if rng.random() < 0.25:  # duplicate, noisier
            preds.append({"image_id": ann["image_id"], "category_id": 1,
                          "keypoints": pose(ann, level + 0.05).ravel().tolist(), "score": score()})  # fmt: skip
    for img in gt["images"]:
        if img["id"] not in silent and rng.random() < 0.3:  # a spurious pose anywhere in the image
            xy = rng.uniform(0, 1, size=(k, 2)) * [img["width"], img["height"]]
            kp = np.concatenate([xy, rng.uniform(0.05, 1, size=(k, 1))], axis=1)
            preds.append({"image_id": img["id"], "category_id": 1, "keypoints": kp.ravel().tolist(), "score": score()})
    return preds


def xtcocotools_reference(
    ann_file: Path, preds: list[dict[str, Any]], sigmas: list[float], use_area: bool
) -> dict[str, float]:
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(ann_file))
        coco_dt = coco_gt.loadRes(copy.deepcopy(preds))
        ev = COCOeval(coco_gt, coco_dt, "keypoints", np.array(sigmas), use_area)
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(s) for s in ev.stats), strict=True))


@pytest.fixture(scope="session")
def load_sample(samples_dir: Path) -> Callable[[str], tuple[Path, dict[str, Any]]]:
    def load(rel: str) -> tuple[Path, dict[str, Any]]:
        path = samples_dir / rel
        return path, json.loads(path.read_text())

    return load


@pytest.fixture(scope="session")
def make_predictions() -> Callable[..., list[dict[str, Any]]]:
    return perturbed_predictions


@pytest.fixture(scope="session")
def xt_reference() -> Callable[..., dict[str, float]]:
    return xtcocotools_reference


@pytest.fixture(scope="session")
def coco_datasets() -> dict[str, tuple[str, list[float], bool]]:
    return DATASETS
