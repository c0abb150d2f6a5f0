"""CrowdPose scoring (harness/metrics/crowdpose.py): the nine stats equal xtcocotools' `keypoints_crowd` run the way
MMPose 0.29's BottomUpCrowdPoseDataset runs it (from files, use_area False), with the crowd bins populated or empty;
inputs the library would misread are refused with one line naming the file, the image and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import DataError
from harness.metrics.crowdpose import STAT_NAMES, evaluate_crowdpose
from harness.metrics.evaluators import score
from zoo import load_registry
from zoo.evaluators.crowdpose_keypoints import CrowdPoseEvaluator

SIGMAS = [0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089, 0.079, 0.079]


@pytest.fixture()
def gt(samples_dir) -> dict:
    return json.loads((samples_dir / "crowdpose" / "test_crowdpose.json").read_text())


def _predictions(gt: dict, seed: int = 0) -> list[dict]:
    """Every GT person with jittered joints and a random score, plus one stray false positive per image."""
    rng = np.random.default_rng(seed)
    out = []
    for ann in gt["annotations"]:
        kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        kps[:, :2] += rng.normal(0, 4, size=(len(kps), 2))
        kps[:, 2] = rng.uniform(0.2, 1.0, size=len(kps))
        out.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": kps.ravel().tolist(),
                    "score": float(rng.uniform(0.1, 1.0))})  # fmt: skip
    for img in gt["images"]:
        kps = np.column_stack([rng.uniform(0, 300, 14), rng.uniform(0, 300, 14), np.full(14, 0.5)])
        out.append({"image_id": img["id"], "category_id": 1, "keypoints": kps.ravel().tolist(), "score": 0.3})
    return out


def _reference(gt: dict, preds: list[dict], tmp_path: Path) -> list[float]:
    """xtcocotools called exactly as bottom_up_crowdpose.py:95-107 calls it: annotation and result files on disk."""
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    ann_file, res_file = tmp_path / "gt.json", tmp_path / "res.json"
    ann_file.write_text(json.dumps(gt))
    res_file.write_text(json.dumps(preds))
    coco = COCO(str(ann_file))
    ev = COCOeval(coco, coco.loadRes(str(res_file)), "keypoints_crowd", np.array(SIGMAS), use_area=False)
    ev.params.useSegm = None
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return [float(v) for v in ev.stats]


@pytest.mark.parametrize("indices", [None, (0.1, 0.9)], ids=["sample-medium", "easy-and-hard"])
def test_stats_equal_the_library_run_as_mmpose_runs_it(gt, tmp_path, indices):
    if indices is not None:
        for img, value in zip(gt["images"], indices, strict=True):
            img["crowdIndex"] = value
    preds = _predictions(gt)
    expected = _reference(copy.deepcopy(gt), preds, tmp_path)
    got = evaluate_crowdpose(preds, gt, sigmas=SIGMAS)["metrics"]
    assert [got[k] for k in STAT_NAMES] == expected  # bit for bit: the same library on the same inputs
    bins = [got["AP(E)"], got["AP(M)"], got["AP(H)"]]
    if indices is None:
        assert bins[0] == -1.0 and bins[2] == -1.0 and bins[1] > 0  # both sample images are medium (0.33, 0.39)
    else:
        assert bins[1] == -1.0 and bins[0] > 0 and bins[2] > 0


def test_score_dispatches_on_the_registry_row(gt):
    registry = load_registry()
    row = registry.row("higher_hrnet32_crowdpose_512x512/single-scale")
    assert isinstance(row.protocol.evaluator, CrowdPoseEvaluator)
    out = score(_predictions(gt), evaluator=row.protocol.evaluator, gt=gt, schema=registry.schemas["crowdpose"])
    assert list(out["metrics"]) == ["AP", "AP50", "AP75", "AR", "AR50", "AP(E)", "AP(M)", "AP(H)"]
    assert set(row.metrics) <= set(out["metrics"]) and list(out["extra_metrics"]) == ["AR75"]
    assert out["evaluator"]["kind"] == "crowdpose_keypoints" and out["evaluator"]["use_area"] is False
    fast = score(_predictions(gt), evaluator=row.protocol.evaluator, gt=gt, schema=registry.schemas["crowdpose"],
                 backend="fast")  # fmt: skip
    assert fast["metrics"] == out["metrics"] and fast["scoring"] == {"requested": "fast", "backend": "library"}


def test_no_predictions_scores_zero_like_mmpose(gt):
    # bottom_up_crowdpose.py:89-93: an empty result file gives 0 for every stat, the library is not called.
    assert set(evaluate_crowdpose([], gt, sigmas=SIGMAS)["metrics"].values()) == {0.0}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda g: g["images"][1].pop("crowdIndex"), "images[1] (id 103319) has no 'crowdIndex'"),
        (lambda g: g["images"][0].update(crowdIndex=float("nan")), "images[0] (id 106848) has 'crowdIndex' NaN"),
        (lambda g: g["images"][0].update(crowdIndex="0.3"), "has 'crowdIndex' \"0.3\""),
        (lambda g: g["annotations"][2].pop("num_keypoints"), "annotations[2] (id"),
    ],
    ids=["missing", "nan", "text", "no-num-keypoints"],
)
def test_bad_crowd_fields_are_one_line_errors(gt, tmp_path, edit, message):
    edit(gt)
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(gt, allow_nan=True))
    with pytest.raises(DataError) as err:
        evaluate_crowdpose(_predictions(json.loads((tmp_path / "ann.json").read_text())), path, sigmas=SIGMAS)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text
