"""Horse-10 PCK / NME (PROTOCOLS.md §5, §8 item 11): a hand-worked case, shard merging, matching, the sample."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import PredictionError
from harness.metrics.pck import (
    horse10_pck_mmpose029,
    horse10_pck_nme,
    match_predictions,
    nose_eye_normalizer,
    pck_compute,
    pck_merge,
    pck_update,
    pose_ground_truth,
)

NAMES = ["Nose", "Eye", "Knee", "Foot"]


def _ann(ann_id, image_id, kps, bbox, iscrowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": bbox, "iscrowd": iscrowd,
            "keypoints": [float(v) for kp in kps for v in kp]}  # fmt: skip


# Four joints (Nose, Eye, Knee, Foot), K = 4. Joints as (x, y, v).
GT = {
    "images": [{"id": i, "width": 300, "height": 300, "file_name": f"{i}.png"} for i in (1, 2, 3)],
    "categories": [{"id": 1, "name": "horse", "keypoints": NAMES}],
    "annotations": [
        # A (bbox_id 0): L = |(10,20)-(16,28)| = 10. Foot unlabelled.
        _ann(10, 1, [(10, 20, 2), (16, 28, 2), (50, 50, 2), (0, 0, 0)], [0, 0, 100, 50]),
        # B (bbox_id 1): Nose and Eye unlabelled at (0,0): L = 0 -> 1e6 (model-zoo era); bbox 0 x 0 (0.29 excludes B).
        _ann(20, 2, [(0, 0, 0), (0, 0, 0), (30, 30, 2), (40, 60, 2)], [20, 20, 0, 0]),
        # C (bbox_id 2): Eye unlabelled (v = 0) but its raw coordinates still give L = |(100,100)-(103,104)| = 5.
        _ann(30, 2, [(100, 100, 2), (103, 104, 0), (120, 120, 2), (0, 0, 0)], [90, 90, 40, 20]),
        # Not GT instances: a crowd annotation and one whose keypoints are all 0 (max(keypoints) == 0).
        _ann(40, 3, [(5, 5, 2), (6, 6, 2), (7, 7, 2), (8, 8, 2)], [0, 0, 10, 10], iscrowd=1),
        _ann(50, 3, [(0, 0, 0)] * 4, [0, 0, 10, 10]),
    ],
}
PRED = {  # bbox_id -> predicted (x, y) per joint; the score column is irrelevant to PCK
    0: [(12, 20), (16, 31), (50, 46), (100, 100)],
    1: [(7, 7), (9, 9), (130, 30), (40, 60)],
    2: [(101, 100), (150, 150), (120, 130), (0, 0)],
}
#  Model-zoo era (threshold 0.3, strict <), d = |pred - gt| / L over visible joints:
#   A (L=10): Nose 2/10 = 0.2 hit | Eye 3/10 = 0.3 exactly -> NOT a hit | Knee 4/10 = 0.4 miss
#   B (L=1e6): Knee 100/1e6 = 1e-4 hit | Foot 0 hit
#   C (L=5): Nose 1/5 = 0.2 hit | Knee 10/5 = 2.0 miss
#   per joint: Nose 2/2 = 1, Eye 0/1 = 0, Knee 1/3, Foot 1/1 = 1  -> PCK = (1 + 0 + 1/3 + 1) / 4 = 7/12
#   NME = (0.2 + 0.3 + 0.4 + 1e-4 + 0 + 0.2 + 2.0) / 7 = 3.1001 / 7
#  mmpose 0.29 (threshold 0.2, normaliser = longer bbox side, zero normaliser excluded):
#   A (100): Nose 0.02, Eye 0.03, Knee 0.04 all hits | B excluded (bbox 0 x 0) | C (40): Nose 1/40 hit, Knee 10/40 miss
#   per joint: Nose 1, Eye 1, Knee 1/2, Foot (no visible instance left) skipped -> PCK = 2.5 / 3
ERA_PCK, ERA_NME = 7 / 12, 3.1001 / 7
HEAD_PCK = 2.5 / 3


def _preds(order=(0, 1, 2), *, with_bbox_id=True):
    out = []
    image_of = {0: 1, 1: 2, 2: 2}
    for b in order:
        p = {"image_id": image_of[b], "category_id": 1, "score": 0.5,
             "keypoints": [float(v) for x, y in PRED[b] for v in (x, y, 0.8)]}  # fmt: skip
        if with_bbox_id:
            p["bbox_id"] = b
        out.append(p)
    return out


def test_hand_checked_model_zoo_era():
    got = horse10_pck_nme(_preds(order=(2, 0, 1)), GT)
    assert got.metrics == {"PCK@0.3": pytest.approx(ERA_PCK, abs=1e-12), "NME": pytest.approx(ERA_NME, abs=1e-12)}
    assert list(got.metrics) == ["PCK@0.3", "NME"]
    assert got.num_instances == 3
    assert got.per_keypoint["Eye"] == {"PCK@0.3": 0.0, "NME": pytest.approx(0.3), "visible": 1}
    assert got.per_keypoint["Knee"]["PCK@0.3"] == pytest.approx(1 / 3)
    assert got.per_keypoint["Foot"] == {"PCK@0.3": 1.0, "NME": 0.0, "visible": 1}


def test_hand_checked_mmpose029():
    got = horse10_pck_mmpose029(_preds(), GT)
    assert got.metrics == {"PCK": pytest.approx(HEAD_PCK, abs=1e-12)}  # no NME: 0.29 raises TypeError there
    assert got.per_keypoint["Foot"] == {"PCK": None, "visible": 0}
    assert got.per_keypoint["Knee"] == {"PCK": 0.5, "visible": 2}


def test_file_order_matching_equals_bbox_id_matching():
    by_id = horse10_pck_nme(_preds(order=(1, 2, 0)), GT)
    by_order = horse10_pck_nme(_preds(with_bbox_id=False), GT)
    assert by_order.metrics == by_id.metrics
    # Within image 2 the file order decides: swapping B and C changes the numbers.
    swapped = horse10_pck_nme(_preds(order=(0, 2, 1), with_bbox_id=False), GT)
    assert swapped.metrics != by_id.metrics


def test_shards_merge_to_the_single_run():
    truth = pose_ground_truth(GT)
    pred = match_predictions(_preds(), truth)
    norm = nose_eye_normalizer(truth.keypoints)
    assert norm.tolist() == [10.0, 1e6, 5.0]

    def update(sl):
        return pck_update(pred[sl], truth.keypoints[sl], truth.visible[sl], norm[sl], threshold=0.3)

    whole = pck_compute(update(slice(None)))
    merged = pck_compute(pck_merge([update(slice(0, 1)), update(slice(1, 3))]))
    assert merged[:2] == pytest.approx(whole[:2], abs=1e-15)
    assert merged[0] == pytest.approx(ERA_PCK) and merged[1] == pytest.approx(ERA_NME)
    np.testing.assert_array_equal(merged[2], whole[2])


def test_matching_errors_are_explicit():
    with pytest.raises(PredictionError, match=r"2 \(1 predictions, 2 GT\)"):
        horse10_pck_nme(_preds(order=(0, 1), with_bbox_id=False), GT)
    with pytest.raises(PredictionError, match="expected each exactly once"):
        horse10_pck_nme(_preds(order=(0, 1, 1)), GT)
    wrong_image = _preds()
    wrong_image[0] = {**wrong_image[0], "image_id": 2}
    with pytest.raises(PredictionError, match="another image"):
        horse10_pck_nme(wrong_image, GT)
    with pytest.raises(PredictionError, match=r"K = 4"):
        horse10_pck_nme([{**_preds()[0], "keypoints": [1.0] * 9}], GT)


def test_sample_file_perfect_predictions(load_sample):
    _, gt = load_sample("horse10/test_horse10.json")
    preds = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
             for a in gt["annotations"]]  # fmt: skip
    got = horse10_pck_nme(preds, gt)
    assert got.metrics == {"PCK@0.3": 1.0, "NME": 0.0} and got.num_instances == 3
    assert len(got.per_keypoint) == 22 and "Ischium" in got.per_keypoint
    assert horse10_pck_mmpose029(preds, gt).metrics == {"PCK": 1.0}
