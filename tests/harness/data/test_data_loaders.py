"""GT-box, detection-box and Horse-10 instance loading: PROTOCOLS.md §5 skip rules, cleaning, ids, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from harness.data.coco_style import clean_gt_bbox, load_detection_instances, load_gt_instances
from harness.data.horse10 import load_horse10_instances
from harness.errors import DataError


@pytest.mark.parametrize(("name", "kept", "k"), [("aic", 9, 14), ("coco", 12, 17), ("macaque", 2, 17), ("atrw", 2, 15)])
def test_gt_samples(samples_dir, name, kept, k):
    d = samples_dir / name
    s = load_gt_instances(d / f"test_{name}.json", img_dir=d, gt_box_shrink=True, num_keypoints=k)
    assert len(s) == kept and s.report.kept == kept
    for img_id in {i.image_id for i in s.instances}:  # bbox_id restarts at 0 in each image
        assert [i.bbox_id for i in s.instances if i.image_id == img_id] == list(range(sum(
            i.image_id == img_id for i in s.instances)))  # fmt: skip
    inst = s.instances[0]
    assert inst.bbox_score == 1.0 and inst.keypoints.shape == (k, 3) and inst.keypoints.dtype == np.float32
    assert inst.image_path.parent == d


def test_coco_sample_skips_unlabelled(samples_dir):
    d = samples_dir / "coco"
    s = load_gt_instances(d / "test_coco.json", img_dir=d, gt_box_shrink=False)
    assert s.report.skipped == {"no labelled keypoint (max(keypoints) == 0)": 2}


def test_aic_cleaning_w_minus_1_vs_w(samples_dir):
    # AIC has no area/iscrowd; first box [279, 55, 213, 544] in a 900x600 image.
    d = samples_dir / "aic"
    era = load_gt_instances(d / "test_aic.json", img_dir=d, gt_box_shrink=True).instances[0]
    head = load_gt_instances(d / "test_aic.json", img_dir=d, gt_box_shrink=False).instances[0]
    assert era.bbox == (279.0, 55.0, 212.0, 543.0)
    assert head.bbox == (279.0, 55.0, 213.0, 544.0)


def test_clean_gt_bbox_rules():
    hw = (100, 200)  # (H, W)
    assert clean_gt_bbox([10, 20, 30, 40], image_size=hw, shrink=True) == (10, 20, 29, 39)
    assert clean_gt_bbox([10, 20, 30, 40], image_size=hw, shrink=False) == (10, 20, 30, 40)
    assert clean_gt_bbox([-5, -5, 300, 300], image_size=hw, shrink=False) == (0, 0, 199, 99)  # clipped to W-1, H-1
    assert clean_gt_bbox([250, 20, 30, 40], image_size=hw, shrink=False) is None  # entirely outside
    assert clean_gt_bbox([10, 20, 1, 40], image_size=hw, shrink=True) is None  # w' = 0
    assert clean_gt_bbox([10, 20, 1, 40], image_size=hw, shrink=False) == (10, 20, 1, 40)
    assert clean_gt_bbox([10, 20, -3, 40], image_size=hw, shrink=False) is None


def _write(tmp_path, anns, images=None, name="ann.json"):
    images = images or [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}]
    p = tmp_path / name
    p.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    return p


KP = [50, 50, 2] + [0, 0, 0] * 2


def test_gt_skip_rules(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": KP, "num_keypoints": 1},
        {"id": 2, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": KP, "iscrowd": 1},
        {"id": 3, "image_id": 1, "keypoints": KP},
        {"id": 4, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": KP, "area": 0},
        {"id": 5, "image_id": 1, "bbox": [500, 10, 50, 50], "keypoints": KP},
        {"id": 6, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": [0] * 9},
        {"id": 7, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": KP, "num_keypoints": 0},
        {"id": 8, "image_id": 1, "bbox": [10, 10, 50, 50]},
        {"id": 9, "image_id": 1, "bbox": [20, 10, 50, 50], "keypoints": KP},
    ]
    s = load_gt_instances(_write(tmp_path, anns), img_dir=tmp_path, gt_box_shrink=True, check_images=False)
    assert [i.annotation_id for i in s.instances] == [1, 9]
    assert [i.bbox_id for i in s.instances] == [0, 1]
    assert sum(s.report.skipped.values()) == 7 and len(s.report.skipped) == 7


def test_gt_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_gt_instances(tmp_path / "none.json", img_dir=tmp_path, gt_box_shrink=True)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_gt_instances(bad, img_dir=tmp_path, gt_box_shrink=True)
    with pytest.raises(DataError, match="no 'annotations' list"):
        (tmp_path / "x.json").write_text(json.dumps({"images": []}))
        load_gt_instances(tmp_path / "x.json", img_dir=tmp_path, gt_box_shrink=True)
    ann = [{"id": 1, "image_id": 1, "bbox": [10, 10, 50, 50], "keypoints": KP}]
    with pytest.raises(DataError, match="has 9 values, expected 3 \\* 17"):
        load_gt_instances(_write(tmp_path, ann), img_dir=tmp_path, gt_box_shrink=True, num_keypoints=17)
    with pytest.raises(DataError, match=r"image\(s\) referenced .* missing: .*a\.jpg; expected them in"):
        load_gt_instances(_write(tmp_path, ann), img_dir=tmp_path, gt_box_shrink=True)
    with pytest.raises(DataError, match="image id 5, not under 'images'"):
        load_gt_instances(_write(tmp_path, [{**ann[0], "image_id": 5}]), img_dir=tmp_path, gt_box_shrink=True)


def test_detection_sample(samples_dir):
    d = samples_dir / "coco"
    s = load_detection_instances(d / "test_coco_det_AP_H_56.json", ann_file=d / "test_coco.json", img_dir=d)
    assert len(s) == 118
    assert [i.bbox_id for i in s.instances] == list(range(118))  # global running id
    raw = json.loads((d / "test_coco_det_AP_H_56.json").read_text())
    assert s.instances[5].bbox == tuple(raw[5]["bbox"]) and s.instances[5].bbox_score == raw[5]["score"]
    assert s.instances[5].keypoints is None
    thr = load_detection_instances(
        d / "test_coco_det_AP_H_56.json", ann_file=d / "test_coco.json", img_dir=d, score_threshold=0.5
    )
    assert 0 < len(thr) < 118 and all(i.bbox_score >= 0.5 for i in thr.instances)
    assert [i.bbox_id for i in thr.instances] == list(range(len(thr)))


def _det_env(tmp_path, samples_dir, dets):
    shutil.copy(samples_dir / "coco" / "test_coco.json", tmp_path / "ann.json")
    p = tmp_path / "det.json"
    p.write_text(json.dumps(dets))
    return dict(ann_file=tmp_path / "ann.json", img_dir=samples_dir / "coco"), p


def test_detection_filters_flags_and_errors(tmp_path, samples_dir):
    dets = [
        {"image_id": 785, "category_id": 1, "bbox": [10, 10, 50, 80], "score": 0.9},
        {"image_id": 785, "category_id": 2, "bbox": [10, 10, 50, 80], "score": 0.9},
        {"image_id": 785, "category_id": 1, "bbox": [10, 10, 0, 0], "score": 0.8},
        {"image_id": 785, "category_id": 1, "bbox": [10, 10, -4, 30], "score": 0.8},
        {"image_id": 785, "category_id": 1, "bbox": [5000, 10, 40, 30], "score": 0.7},
    ]
    kw, p = _det_env(tmp_path, samples_dir, dets)
    s = load_detection_instances(p, **kw)
    assert len(s) == 4 and [i.bbox_id for i in s.instances] == [0, 1, 2, 3]  # odd boxes kept, as the reference
    assert s.report.skipped == {"category_id != 1": 1} and sum(s.report.flagged.values()) == 3
    for bad, match in [
        ([], "is empty"),
        ([dets[1]], "no usable box"),
        ({"a": 1}, "JSON list"),
        ([{**dets[0], "image_id": 1}], "image id 1, which .* does not list"),
        ([{**dets[0], "bbox": [1, 2, "x", 4]}], "4 numbers"),
        ([{**dets[0], "bbox": [1, 2, float("nan"), 4]}], "finite"),
        ([{"image_id": 785}], "lacks one of"),
    ]:
        kw, p = _det_env(tmp_path, samples_dir, bad)
        with pytest.raises(DataError, match=match):
            load_detection_instances(p, **kw)
    kw, p = _det_env(tmp_path, samples_dir, dets)
    with pytest.raises(DataError, match="no usable box"):
        load_detection_instances(p, **kw, score_threshold=0.95)
    kw["img_dir"] = tmp_path
    with pytest.raises(DataError, match=r"000000000785\.jpg"):
        load_detection_instances(p, **kw)
    (tmp_path / "det.json").write_text("")
    with pytest.raises(DataError, match="not valid JSON"):
        load_detection_instances(tmp_path / "det.json", ann_file=tmp_path / "ann.json", img_dir=tmp_path)


def test_horse10_sample(samples_dir):
    d = samples_dir / "horse10"
    s = load_horse10_instances(d / "test_horse10.json", img_dir=d)
    raw = json.loads((d / "test_horse10.json").read_text())
    assert len(s) == 3 and [i.bbox_id for i in s.instances] == [0, 1, 2]
    assert [i.bbox for i in s.instances] == [tuple(float(v) for v in a["bbox"]) for a in raw["annotations"]]
    assert s.instances[0].keypoints.shape == (22, 3)


def test_horse10_skips_crowd_and_unlabelled(tmp_path):
    kp = [1, 2, 1] + [0] * 63
    anns = [
        {"id": 1, "image_id": 1, "bbox": [-5, 0, 500, 50], "keypoints": kp},
        {"id": 2, "image_id": 1, "bbox": [0, 0, 5, 5], "keypoints": [0] * 66},
        {"id": 3, "image_id": 1, "bbox": [0, 0, 5, 5], "keypoints": kp, "iscrowd": 1},
    ]
    s = load_horse10_instances(_write(tmp_path, anns), img_dir=tmp_path, check_images=False)
    assert [i.annotation_id for i in s.instances] == [1]
    assert s.instances[0].bbox == (-5.0, 0.0, 500.0, 50.0)  # raw, never cleaned
