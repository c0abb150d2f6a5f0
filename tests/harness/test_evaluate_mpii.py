"""`python -m harness evaluate` on an MPII row (PROTOCOLS.md §11): the json's persons, the .mat beside it, a --limit
run scored on its own persons, a .mat that does not match the json refused before any inference, and the .mat
pinned by the data lock with the json (a changed one is named by `data check` and keeps a run from counting)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.io import savemat

from harness.cli import main
from harness.data import lock
from harness.metrics.pckh import evaluate_pckh
from tests.helpers.mpii import gt_fields, write_gt_mat

ENTRY = "hrnet_w32_mpii_256x256"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from harness.models.random_weights import make_random_checkpoint
    from zoo import load_registry

    arch = load_registry().entry(ENTRY).architecture
    return make_random_checkpoint(arch, tmp_path_factory.mktemp("ckpt") / "mpii.pth", seed=1, calibrate_bn=False)


@pytest.fixture
def ann(samples_dir, tmp_path):
    path = tmp_path / "mpii_val.json"
    shutil.copy(samples_dir / "mpii" / "test_mpii.json", path)
    write_gt_mat(path, tmp_path / "mpii_gt_val.mat")
    return path


def _evaluate(ann, img_dir, checkpoint, out, *extra) -> int:
    args = ["evaluate", ENTRY, "--checkpoint", str(checkpoint), "--ann-file", str(ann), "--img-dir", str(img_dir)]
    return main([*args, "--out", str(out), "--device", "cpu", "--no-progress", *extra])


@pytest.mark.slow
def test_a_limited_run_is_scored_on_its_own_persons(ann, samples_dir, checkpoint, tmp_path):
    assert _evaluate(ann, samples_dir / "mpii", checkpoint, tmp_path / "out", "--limit", "2") == 0
    preds = json.loads((tmp_path / "out" / "predictions.json").read_text())
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert [p["bbox_id"] for p in preds] == [0, 1] and metrics["counts"] == {"instances": 2}
    # The same numbers as scoring those two predictions against those two persons of the .mat.
    fields = {k: v if k == "dataset_joints" else v[..., :2] for k, v in gt_fields(ann).items()}
    two = tmp_path / "two.mat"
    savemat(str(two), fields)
    expect = evaluate_pckh(preds, two, threshold=0.5, head_size_factor=0.6)
    assert metrics["metrics"] == pytest.approx(dict(expect.metrics), nan_ok=True)
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["provenance"]["pckh_ground_truth"]["path"].endswith("mpii_gt_val.mat")


def test_a_mat_of_other_persons_is_refused_before_inference(ann, samples_dir, checkpoint, tmp_path, capsys):
    fields = gt_fields(ann)
    write_gt_mat(ann, ann.parent / "mpii_gt_val.mat", jnt_missing=np.zeros((16, 4)),
                 pos_gt_src=fields["pos_gt_src"][..., :4], headboxes_src=fields["headboxes_src"][..., :4])  # fmt: skip
    assert _evaluate(ann, samples_dir / "mpii", checkpoint, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "holds 4 persons but" in err and "has 5 records" in err
    assert not (tmp_path / "out" / "predictions.json").exists()


@pytest.fixture
def data_root(samples_dir, tmp_path):
    """MPII in the reference layout: the sample json as mpii_val.json, its .mat beside it, the sample images."""
    root = tmp_path / "data"
    (root / "mpii/annotations").mkdir(parents=True)
    shutil.copytree(samples_dir / "mpii", root / "mpii/images", ignore=shutil.ignore_patterns("*.json"))
    shutil.copy(samples_dir / "mpii" / "test_mpii.json", root / "mpii/annotations/mpii_val.json")
    write_gt_mat(root / "mpii/annotations/mpii_val.json", root / "mpii/annotations/mpii_gt_val.mat")
    return root


def _check(root) -> int:
    return main(["data", "check", "mpii", "--data-root", str(root)])


def test_data_check_needs_the_mat_and_checks_it_against_the_json(data_root, capsys):
    mat = data_root / "mpii/annotations/mpii_gt_val.mat"
    mat.unlink()
    assert _check(data_root) == 1
    err = capsys.readouterr().err
    assert "mpii_gt_val.mat does not exist" in err and "python -m harness data fetch mpii" in err
    assert not lock.lock_path(data_root).exists()  # nothing pinned
    fields = gt_fields(data_root / "mpii/annotations/mpii_val.json")
    savemat(str(mat), {**fields, "headboxes_src": fields["headboxes_src"][..., :3]})
    assert _check(data_root) == 1
    assert "headboxes_src" in capsys.readouterr().err and not lock.lock_path(data_root).exists()


def test_the_mat_is_pinned_and_a_changed_one_is_named(data_root, checkpoint, tmp_path, capsys):
    assert _check(data_root) == 0
    pinned = lock.dataset_lock(data_root, "mpii")
    assert "mpii/annotations/mpii_gt_val.mat" in pinned.files and pinned.splits["val"].count == 2 + 5
    capsys.readouterr()
    # Other head boxes (every PCKh value depends on them), the json and the images untouched.
    ann = data_root / "mpii/annotations/mpii_val.json"
    write_gt_mat(ann, ann.parent / "mpii_gt_val.mat", headboxes_src=gt_fields(ann)["headboxes_src"] * 1.5)
    assert _check(data_root) == 1
    assert "mpii/annotations/mpii_gt_val.mat changed since the lock was pinned" in capsys.readouterr().err
    args = ["evaluate", ENTRY, "--checkpoint", str(checkpoint), "--data-root", str(data_root), "--limit", "1"]
    assert main([*args, "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]) == 0
    data = json.loads((tmp_path / "out" / "result.json").read_text())["provenance"]["data"]
    assert data["files"] == 3 and any("mpii_gt_val.mat changed" in d for d in data["differences"])
