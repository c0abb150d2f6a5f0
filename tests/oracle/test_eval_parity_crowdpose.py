"""CrowdPose bottom-up evaluation parity: `python -m harness evaluate higher_hrnet32_crowdpose_512x512/single-scale
--protocol mmpose-0.29` gives MMPose 0.29's persons and its `BottomUpCrowdPoseDataset.evaluate` metrics, AP per crowd
bin included (docs/PARITY.md, "CrowdPose").

Same recipe as test_eval_parity_bottomup.py (oracle-made random weights, heatmap bias shifted so that at most 2 peaks
per joint and image survive, both sides on the same files), single scale, on two annotation files:

- "sample": tests/data/samples/crowdpose as it is; both images have a crowd index in the medium bin, so AP(E) and
  AP(H) are -1 on both sides;
- "bins": a copy made here with a third image (a renamed copy of one sample image, its annotations with new ids) and
  crowd indices 0.1, 0.5 and 0.9, one image per bin, so that every bin's AP is compared.

Random weights score AP 0 on both sides, so the metrics are also compared where they are not 0: predictions near the
ground truth, on both annotation files, scored by `python -m harness score ROW --protocol mmpose-0.29` and by MMPose
0.29's own `BottomUpCrowdPoseDataset.evaluate` (oracle/score_bottomup.py; no model, seconds).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.oracle.parity_helpers import (
    COCO_METRIC_NAMES,
    REPO,
    compare_bottomup,
    metric_differences,
    run_harness_evaluate,
    run_oracle_evaluate,
    sparsify_bottomup_checkpoint,
)

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

ROW = "higher_hrnet32_crowdpose_512x512/single-scale"
CONFIG = "configs/body/2d_kpt_sview_rgb_img/associative_embedding/crowdpose/higherhrnet_w32_crowdpose_512x512.py"
K = 14
MATCH_PX = 0.5
MATCHED_FRACTION = 0.99
SCORE_ABS = 1e-4
METRIC_ABS = 1e-9
#: Ours -> the names MMPose 0.29's BottomUpCrowdPoseDataset.evaluate reports (bottom_up_crowdpose.py:82-85).
CROWD_METRIC_NAMES = {
    **COCO_METRIC_NAMES,
    "AR75": "AR .75",
    "AP(E)": "AP(E)",
    "AP(M)": "AP(M)",
    "AP(H)": "AP(H)",
}
#: easy < 0.2 <= medium < 0.8 <= hard (xtcocotools COCOeval.get_type_result's split).
BIN_INDICES = (0.1, 0.5, 0.9)


def _sample(samples_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    return samples_dir / "crowdpose" / "test_crowdpose.json", samples_dir / "crowdpose"


def _three_bins(samples_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A folder with the two sample images and a renamed copy of the first, and an annotation file whose three images
    fall one in each crowd bin."""
    src = samples_dir / "crowdpose"
    ann = json.loads((src / "test_crowdpose.json").read_text())
    folder = tmp_path / "bins"
    folder.mkdir()
    for img in ann["images"]:
        shutil.copy(src / img["file_name"], folder / img["file_name"])
    first = ann["images"][0]
    copy_name = f"copy_{first['file_name']}"
    shutil.copy(src / first["file_name"], folder / copy_name)
    new_id = max(img["id"] for img in ann["images"]) + 1
    ann["images"].append({**first, "id": new_id, "file_name": copy_name})
    next_ann = max(a["id"] for a in ann["annotations"]) + 1
    copies = [a for a in ann["annotations"] if a["image_id"] == first["id"]]
    for i, a in enumerate(copies):
        ann["annotations"].append({**a, "id": next_ann + i, "image_id": new_id})
    for img, index in zip(ann["images"], BIN_INDICES, strict=True):
        img["crowdIndex"] = index
    out = folder / "test_crowdpose_bins.json"
    out.write_text(json.dumps(ann))
    return out, folder


DATA = {"sample": _sample, "bins": _three_bins}


@pytest.mark.parametrize("name", list(DATA))
def test_crowdpose_evaluation_matches_mmpose(name, oracle, oracle_checkpoint, samples_dir, tmp_path):
    ann, img_dir = DATA[name](samples_dir, tmp_path)
    ckpt = tmp_path / "sparse.pth"
    info = sparsify_bottomup_checkpoint(
        oracle_checkpoint(CONFIG, 0), ckpt, entry=ROW.partition("/")[0], ann_file=ann, img_dir=img_dir
    )
    assert sum(info["candidates"]) > 0 and max(info["candidates"]) <= 2 * K, f"{name}: {info}"

    ref = run_oracle_evaluate(oracle, CONFIG, checkpoint=ckpt, ann_file=ann, img_dir=img_dir, out=tmp_path / "oracle")
    preds, metrics = run_harness_evaluate(ROW, checkpoint=ckpt, ann_file=ann, img_dir=img_dir, out=tmp_path / "ours")

    assert ref.results, f"{name}: the oracle found no person; the sparsified weights are too sparse ({info})"
    assert ref.raw["dataset"] == "BottomUpCrowdPoseDataset"
    cmp = compare_bottomup(preds, ref.results, num_keypoints=K, px=MATCH_PX)
    detail = f"{name}: {cmp.summary()}"
    assert cmp.oracle_matched_fraction >= MATCHED_FRACTION, detail
    assert cmp.ours_matched_fraction >= MATCHED_FRACTION, detail
    assert cmp.max_score_diff <= SCORE_ABS, detail
    assert not ref.metrics["failed"], f"{name}: the oracle's evaluation raised {ref.metrics['failed']}"
    ours = {**metrics["metrics"], **metrics["extra_metrics"]}
    diffs = metric_differences(ours, ref.metrics["values"], CROWD_METRIC_NAMES, tol=METRIC_ABS)
    assert not diffs, f"{name}: metrics differ (ours, oracle): {diffs}"
    bins = [ours["AP(E)"], ours["AP(M)"], ours["AP(H)"]]
    if name == "sample":
        assert bins[0] == -1.0 and bins[2] == -1.0 and bins[1] >= 0.0, bins  # both images are medium
    else:
        assert min(bins) >= 0.0, bins  # every bin holds an image: none is the library's -1


def _near_gt_predictions(ann: Path, seed: int = 0) -> list[dict]:
    """Every GT person with jittered joints and a random score, and one stray person per image."""
    gt = json.loads(ann.read_text())
    rng = np.random.default_rng(seed)
    out = []
    for a in gt["annotations"]:
        kps = np.asarray(a["keypoints"], dtype=np.float64).reshape(K, 3)
        kps[:, :2] += rng.normal(0, 5, size=(K, 2))
        kps[:, 2] = rng.uniform(0.2, 1.0, size=K)
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kps.ravel().tolist(),
                    "score": float(rng.uniform(0.1, 1.0))})  # fmt: skip
    for img in gt["images"]:
        kps = np.column_stack([rng.uniform(0, 400, K), rng.uniform(0, 400, K), np.full(K, 0.5)])
        out.append({"image_id": img["id"], "category_id": 1, "keypoints": kps.ravel().tolist(), "score": 0.3})
    return out


@pytest.mark.parametrize("name", list(DATA))
def test_crowdpose_scoring_matches_mmpose_evaluate(name, oracle, samples_dir, tmp_path):
    ann, img_dir = DATA[name](samples_dir, tmp_path)
    preds = tmp_path / "predictions.json"
    preds.write_text(json.dumps(_near_gt_predictions(ann)))
    out = tmp_path / "oracle"
    oracle.run("score_bottomup", "--config", CONFIG, "--ann-file", ann, "--img-prefix", img_dir,
               "--predictions", preds, "--out", out)  # fmt: skip
    ref = json.loads((out / "metrics.json").read_text())
    assert ref["dataset"] == "BottomUpCrowdPoseDataset"
    cmd = [sys.executable, "-m", "harness", "score", ROW, "--predictions", str(preds), "--ann-file", str(ann),
           "--protocol", "mmpose-0.29", "--scoring", "library"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    ours = {**got["metrics"], **got["extra_metrics"]}
    diffs = metric_differences(ours, ref["values"], CROWD_METRIC_NAMES, tol=METRIC_ABS)
    assert not diffs, f"{name}: metrics differ (ours, oracle): {diffs}"
    assert 0.0 < ours["AP"] < 1.0, ours  # a real value, not the 0 of random weights
    if name == "bins":
        assert min(ours["AP(E)"], ours["AP(M)"], ours["AP(H)"]) > 0.0, ours
