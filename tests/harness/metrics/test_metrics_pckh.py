"""MPII PCKh (harness/metrics/pckh.py, PROTOCOLS.md §11): values worked out by hand, the ground-truth file checked
field by field, predictions matched by bbox_id, and `harness score` on an MPII row."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from scipy.io import savemat

from harness.cli import main
from harness.errors import DataError, PredictionError
from harness.metrics.evaluators import score
from harness.metrics.pckh import MAT_JOINTS, evaluate_pckh, read_pckh_ground_truth
from tests.helpers.mpii import gt_fields, joint_names_cell, write_gt_mat
from zoo import load_registry

K = len(MAT_JOINTS)
PELVIS, THORAX, HEAD = MAT_JOINTS.index("pelv"), MAT_JOINTS.index("thor"), MAT_JOINTS.index("head")


@pytest.fixture
def sample(samples_dir, tmp_path):
    """(the sample json, its .mat beside it, the GT joints [N, K, 2] 1-based, joints_vis [N, K])."""
    ann = tmp_path / "mpii_val.json"
    shutil.copy(samples_dir / "mpii" / "test_mpii.json", ann)
    mat = write_gt_mat(ann, tmp_path / "mpii_gt_val.mat")
    records = json.loads(ann.read_text())
    return ann, mat, np.array([r["joints"] for r in records]), np.array([r["joints_vis"] for r in records])


def _preds(joints0: np.ndarray) -> list[dict]:
    """Predictions in the harness's 0-based coordinates, one per person, bbox_id = its index."""
    return [
        {"image_id": 1, "bbox_id": i, "keypoints": np.concatenate([p, np.ones((K, 1))], axis=1).ravel().tolist()}
        for i, p in enumerate(joints0)
    ]


def _two_persons(tmp_path, head=10.0):
    """Two persons, every joint visible, head boxes with diagonal `head` (head size 0.6 x head), GT at (100, 100)."""
    joints = np.full((2, K, 2), 100.0)
    boxes = np.zeros((2, 2, 2))
    boxes[:, 1] = head / math.sqrt(2)
    path = tmp_path / "two.mat"
    fields = {"dataset_joints": joint_names_cell(), "jnt_missing": np.zeros((K, 2))}
    savemat(str(path), {**fields, "pos_gt_src": joints.transpose(1, 2, 0), "headboxes_src": boxes.transpose(1, 2, 0)})
    return path, joints


def test_perfect_predictions_score_one(sample):
    _, mat, joints, _ = sample
    result = evaluate_pckh(_preds(joints - 1), mat, threshold=0.5, head_size_factor=0.6)
    assert dict(result.metrics) == {"Mean": 1.0, "Mean@0.1": 1.0}
    assert result.num_persons == 5 and set(result.parts) == {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee",
                                                             "Ankle"}  # fmt: skip


def test_values_worked_out_by_hand(tmp_path):
    mat, joints = _two_persons(tmp_path)  # head size 6 px: 0.5 -> 3 px, 0.1 -> 0.6 px
    pred = joints.copy()
    pred[0, :, 0] += 3.0  # person 0: every joint exactly at 0.5 (counted: <= is inclusive)
    pred[1, :, 0] += 0.5  # person 1: within 0.1
    pred[1, HEAD, 0] += 10.0  # ... but its head is far off
    pred[:, PELVIS, 0] += 100.0  # pelvis and thorax are wrong everywhere: left out of both means
    pred[:, THORAX, 0] += 100.0
    result = evaluate_pckh(_preds(pred - 1), mat, threshold=0.5, head_size_factor=0.6)
    # 14 counted joints x 2 persons = 28; at 0.5 only person 1's head misses; at 0.1 only person 1's 13 others hit.
    assert result.metrics["Mean"] == pytest.approx(27 / 28, abs=1e-12)
    assert result.metrics["Mean@0.1"] == pytest.approx(13 / 28, abs=1e-7)
    assert result.parts["Head"] == pytest.approx(0.5) and result.parts["Knee"] == pytest.approx(1.0)
    assert result.per_keypoint["pelv"] == {"PCKh": 0.0, "PCKh@0.1": 0.0, "visible": 2}


def test_missing_joints_are_not_counted_and_weights_follow_visible_counts(sample):
    _, mat, joints, vis = sample
    pred = joints - 1
    wrong = [j for j in range(K) if vis[:, j].sum() < len(vis)]  # the sample's joints missing in some persons
    assert wrong, "the sample has joints missing somewhere"
    pred[vis == 0] += 1000.0  # far off, but missing: no effect
    result = evaluate_pckh(_preds(pred), mat, threshold=0.5, head_size_factor=0.6)
    assert dict(result.metrics) == {"Mean": 1.0, "Mean@0.1": 1.0}
    pred[:, wrong[0]] += 1000.0  # now wrong where visible: that joint's visible count out of the total
    result = evaluate_pckh(_preds(pred), mat, threshold=0.5, head_size_factor=0.6)
    kept = [j for j in range(K) if j not in (PELVIS, THORAX)]
    expect = 1 - vis[:, wrong[0]].sum() / vis[:, kept].sum()
    assert result.metrics["Mean"] == pytest.approx(expect, abs=1e-12)


def test_a_counted_joint_with_no_visible_person_makes_the_means_nan(sample, tmp_path):
    ann, _, joints, _ = sample
    missing = gt_fields(ann)["jnt_missing"]
    missing[MAT_JOINTS.index("lwri")] = 1  # nobody's left wrist is labelled
    mat = write_gt_mat(ann, tmp_path / "no_wrist.mat", jnt_missing=missing)
    result = evaluate_pckh(_preds(joints - 1), mat, threshold=0.5, head_size_factor=0.6)
    assert math.isnan(result.metrics["Mean"]) and math.isnan(result.metrics["Mean@0.1"])
    assert result.per_keypoint["lwri"]["PCKh"] is None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"pos_gt_src": None}, "no 'pos_gt_src' field"),
        ({"dataset_joints": joint_names_cell(MAT_JOINTS[::-1])}, "'dataset_joints' lists"),
        ({"jnt_missing": np.full((K, 5), 2.0)}, "'jnt_missing' holds values other than 0 and 1"),
        ({"pos_gt_src": np.zeros((K, 3, 5))}, "'pos_gt_src' is float64 (16, 3, 5)"),
        ({"headboxes_src": np.zeros((2, 2, 4))}, "'headboxes_src' is float64 (2, 2, 4)"),
        ({"headboxes_src": np.zeros((2, 2, 5))}, "'headboxes_src' gives person 0 a head box without a positive"),
        ({"pos_gt_src": np.full((K, 2, 5), np.nan)}, "'pos_gt_src' is not finite for person 0"),
        ({"jnt_missing": np.array([["a"] * 5] * K)}, "'jnt_missing' is <U1"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_every_field_read_is_checked(sample, tmp_path, fields, words):
    ann = sample[0]
    built = {k: v for k, v in {**gt_fields(ann), **fields}.items() if v is not None}
    path = tmp_path / "bad.mat"
    savemat(str(path), built)
    with pytest.raises(DataError, match=r"bad\.mat") as info:
        read_pckh_ground_truth(path)
    assert words in str(info.value)


def test_unreadable_ground_truth_files(tmp_path):
    with pytest.raises(DataError, match="does not exist; it belongs beside the annotation file"):
        read_pckh_ground_truth(tmp_path / "absent.mat")
    (tmp_path / "text.mat").write_text("not a MATLAB file")
    with pytest.raises(DataError, match=r"text\.mat is not a readable MATLAB file"):
        read_pckh_ground_truth(tmp_path / "text.mat")
    # Hostile bytes reach scipy's header parsing (it raised IndexError on these, a traceback for the user), a folder
    # where the file should be, a MATLAB header cut short.
    (tmp_path / "noise.mat").write_bytes(bytes(range(7, 107)))
    (tmp_path / "folder.mat").mkdir()
    (tmp_path / "cut.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 100 + b"\x00\x01IM")
    for name in ("noise.mat", "folder.mat", "cut.mat"):
        with pytest.raises(DataError, match=rf"{name.replace('.', '[.]')} is not a readable MATLAB file"):
            read_pckh_ground_truth(tmp_path / name)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p[0].pop("bbox_id"), "prediction #0 has no bbox_id"),
        (lambda p: p[1].update(bbox_id=0), r"bbox_id 0 \(twice\)"),
        (lambda p: p[1].update(bbox_id=7), r"bbox_id 7 \(no such person\)"),
        (lambda p: p.pop(), r"no prediction for bbox_id \[4\]"),
        (lambda p: p[2].update(keypoints=[1.0] * 5), "is not 48 numbers"),
        (lambda p: p[2]["keypoints"].__setitem__(0, math.nan), "NaN or infinity"),
    ],
)
def test_predictions_must_name_each_person_once(sample, change, words):
    _, mat, joints, _ = sample
    preds = _preds(joints - 1)
    change(preds)
    with pytest.raises(PredictionError, match=words):
        evaluate_pckh(preds, mat, threshold=0.5, head_size_factor=0.6)


def test_score_dispatches_on_the_pckh_record(sample):
    registry = load_registry()
    _, mat, joints, _ = sample
    row = registry.row("hrnet_w32_mpii_256x256")
    out = score(_preds(joints - 1), evaluator=row.protocol.evaluator, gt=mat, schema=registry.schemas["mpii"])
    assert out["metrics"] == {"Mean": 1.0, "Mean@0.1": 1.0}
    assert out["evaluator"] == {"kind": "pckh", "threshold": 0.5, "head_size_factor": 0.6, "gt_file": "mpii_gt_val.mat"}
    assert next(iter(out["per_keypoint"])) == "right_ankle" and out["counts"] == {"instances": 5}


def test_score_cli_reads_the_mat_beside_the_annotation_file(sample, tmp_path, capsys):
    ann, mat, joints, _ = sample
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps(_preds(joints - 1)))
    args = ["score", "hrnet_w48_mpii_256x256", "--predictions", str(pred_file), "--ann-file", str(ann)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == {"Mean": 1.0, "Mean@0.1": 1.0}
    mat.unlink()
    assert main(args) == 2
    assert "mpii_gt_val.mat does not exist" in capsys.readouterr().err
