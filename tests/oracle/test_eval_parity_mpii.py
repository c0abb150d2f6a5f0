"""MPII top-down evaluation parity (PROTOCOLS.md §11): `python -m harness evaluate hrnet_w32_mpii_256x256 --protocol
mmpose-0.29` against MMPose 0.29's TopDownMpiiDataset on the sample (5 persons), with a mpii_gt_val.mat built for
them (tests/helpers/mpii.py) beside the json, where both sides look for it.

1. The whole run on seeded random weights (oracle/make_weights.py): the same persons (bbox_id), every keypoint within
   1e-3 px, maxvals within 1e-5 of the person's largest, the same center and scale (the annotation's, moved down,
   0-based and padded), and Mean / Mean@0.1 equal to the oracle's PCKh / PCKh@0.1 (percent) / 100 to 1e-6.
2. Random weights score ~0, so the scorer is also compared on predictions near the GT (noise of several sizes,
   relative to each head): the oracle's own `dataset.evaluate` on them (oracle/score_raw.py) and ours, to 1e-6,
   with values strictly between 0 and 1.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from harness.metrics.pckh import evaluate_pckh
from tests.helpers.mpii import write_gt_mat
from tests.oracle.parity_helpers import run_harness_evaluate

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

ENTRY = "hrnet_w32_mpii_256x256"
CONFIG = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/mpii/hrnet_w32_mpii_256x256.py"
K = 16
KEYPOINT_PX = 1e-3
SCORE_REL = 1e-5
METRIC_ABS = 1e-6
#: Ours -> MMPose 0.29's name (its values are percentages).
METRICS = {"Mean": "PCKh", "Mean@0.1": "PCKh@0.1"}


@pytest.fixture
def data(samples_dir, tmp_path):
    """(annotation file with the built .mat beside it, image folder)."""
    folder = tmp_path / "annotations"
    folder.mkdir()
    ann = folder / "mpii_val.json"
    shutil.copy(samples_dir / "mpii" / "test_mpii.json", ann)
    write_gt_mat(ann, folder / "mpii_gt_val.mat")
    return ann, samples_dir / "mpii"


def _oracle(oracle, script: str, ann, img_dir, out, *extra) -> dict:
    oracle.run(script, "--config", CONFIG, "--ann-file", ann, "--img-prefix", img_dir, "--out", out, *extra,
               timeout=1800.0)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert not metrics["failed"], f"the oracle's evaluation raised {metrics['failed']}"
    return metrics


def _metric_diffs(ours: dict, theirs: dict) -> dict:
    return {
        name: (ours[name], theirs[ref] / 100)
        for name, ref in METRICS.items()
        if ours.get(name) is None or abs(ours[name] - theirs[ref] / 100) > METRIC_ABS
    }


def test_mpii_evaluation_matches_mmpose(oracle, oracle_checkpoint, data, tmp_path):
    ann, img_dir = data
    ckpt = oracle_checkpoint(CONFIG, 0)
    ref = _oracle(oracle, "evaluate", ann, img_dir, tmp_path / "oracle", "--checkpoint", ckpt)
    raw = json.loads((tmp_path / "oracle" / "raw.json").read_text())["instances"]
    preds, metrics = run_harness_evaluate(ENTRY, checkpoint=ckpt, ann_file=ann, img_dir=img_dir, out=tmp_path / "ours")

    assert sorted(p["bbox_id"] for p in preds) == sorted(r["bbox_id"] for r in raw) == list(range(5))
    theirs = {r["bbox_id"]: r for r in raw}
    for p in preds:
        r = theirs[p["bbox_id"]]
        ka, kb = np.asarray(p["keypoints"]).reshape(K, 3), np.asarray(r["keypoints"])
        where = f"bbox_id {p['bbox_id']}"
        assert np.abs(ka[:, :2] - kb[:, :2]).max() <= KEYPOINT_PX, where
        assert np.abs(ka[:, 2] - kb[:, 2]).max() <= SCORE_REL * max(np.abs(kb[:, 2]).max(), 1e-12), where
        assert np.allclose(p["center"], r["center"], rtol=1e-6, atol=0), where
        assert np.allclose(p["scale"], r["scale"], rtol=1e-6, atol=0), where
    assert not _metric_diffs(metrics["metrics"], ref["values"])


def _near_gt(ann, seed: int) -> list[list[list[float]]]:
    """0-based keypoints near the json's GT: per person and joint, noise of 0 to 0.8 head-ish sizes (40 px)."""
    rng = np.random.default_rng(seed)
    joints = np.array([r["joints"] for r in json.loads(ann.read_text())], dtype=np.float64) - 1
    scale = rng.choice([0.0, 2.0, 8.0, 20.0, 40.0], size=joints.shape[:2])[..., None]
    noisy = joints + rng.normal(size=joints.shape) * scale
    return np.concatenate([noisy, np.ones(joints.shape[:2] + (1,))], axis=-1).astype(np.float32).tolist()


@pytest.mark.parametrize("seed", [0, 1])
def test_pckh_scoring_matches_mmpose_on_nontrivial_predictions(oracle, data, tmp_path, seed):
    ann, img_dir = data
    keypoints = _near_gt(ann, seed)
    records = [
        {"image_file": str(img_dir / "x.jpg"), "bbox_id": i, "center": [0.0, 0.0], "scale": [1.0, 1.0], "area": 1.0,
         "score": 1.0, "keypoints": kp}
        for i, kp in enumerate(keypoints)
    ]  # fmt: skip
    (tmp_path / "raw.json").write_text(json.dumps(records))
    ref = _oracle(oracle, "score_raw", ann, img_dir, tmp_path / "oracle", "--raw", tmp_path / "raw.json")
    preds = [{"bbox_id": r["bbox_id"], "keypoints": np.ravel(r["keypoints"]).tolist()} for r in records]
    ours = evaluate_pckh(preds, ann.parent / "mpii_gt_val.mat", threshold=0.5, head_size_factor=0.6)
    assert not _metric_diffs(dict(ours.metrics), ref["values"])
    assert all(0 < v < 1 for v in ours.metrics.values()), dict(ours.metrics)
