"""Bad inputs that used to change a number silently or end in a traceback (issue 13, cases 5 and 8): broken ground
truth, a registry path that is a folder. Each gets one clear error line with exit status 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.demo import generate
from harness.demo.document import ENTRY_ID


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate.generate(root / "demo", splits={"train": 0, "val": 4})
    return root


def _broken(demo_data: Path, tmp_path: Path, change) -> Path:
    ann = next((demo_data / "demo" / "annotations").glob("*val*.json"))
    gt = json.loads(ann.read_text())
    change(gt)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(gt))  # json.dumps writes NaN as the bare word NaN, which json.load accepts
    return path


def _nan_keypoint(gt):
    gt["annotations"][1]["keypoints"][0] = float("nan")


def _duplicate_id(gt):
    gt["annotations"][1]["id"] = gt["annotations"][0]["id"]


def _visibility_three(gt):
    gt["annotations"][1]["keypoints"][2] = 3


def _other_dataset(gt):
    gt["categories"][0]["keypoints"] = gt["categories"][0]["keypoints"][:-1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_nan_keypoint, "annotations[1] (id {id1}) has a non-finite keypoint value"),
        (_duplicate_id, "annotations[0] and annotations[1] share the id {id0}"),
        (_visibility_three, "annotations[1] (id {id1}) has keypoint visibility [3.0]"),
        (_other_dataset, "lists 12 keypoints, but the keypoint schema 'demo' has 13"),
    ],
    ids=["nan-keypoint", "duplicate-annotation-id", "visibility-3", "categories-of-another-dataset"],
)
def test_broken_ground_truth_is_named_not_scored(workspace, demo_data, tmp_path, capsys, change, message):
    ann = _broken(demo_data, tmp_path, change)
    original = json.loads(next((demo_data / "demo" / "annotations").glob("*val*.json")).read_text())
    ids = {f"id{i}": a["id"] for i, a in enumerate(original["annotations"][:2])}
    out = tmp_path / "out"
    args = ["evaluate", ENTRY_ID, "--ann-file", str(ann), "--img-dir", str(demo_data / "demo" / "images" / "val")]
    rc = main([*args, "--out", str(out), "--offline", "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"error: {ann}: " in err and message.format(**ids) in err, err
    assert not (out / "metrics.json").exists()


def test_registry_path_that_is_a_folder(tmp_path, monkeypatch, capsys):
    from zoo.cli import main as zoo_main

    monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(tmp_path))
    assert zoo_main(["list"]) == 2
    assert main(["evaluate", ENTRY_ID, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"{tmp_path}: is not a regular file (a folder?)") == 2 and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "holds an empty list: there are no predictions to score"),
        (
            '[{"image_id": "1", "category_id": 1, "keypoints": [0, 0, 1], "score": 1}]',
            "give image_id as a string ('1')",
        ),
    ],
    ids=["empty-list", "string-image-id"],
)
def test_score_refuses_predictions_that_would_score_zero_silently(samples_dir, tmp_path, capsys, text, message):
    preds = tmp_path / "p.json"
    preds.write_text(text)
    ann = samples_dir / "aic" / "test_aic.json"
    rc = main(["score", "hrnet_w32_aic_256x192", "--predictions", str(preds), "--ann-file", str(ann)])
    assert rc == 2 and message in capsys.readouterr().err
