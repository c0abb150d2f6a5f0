"""`data check` of a folder made by hand (issue 15): every problem listed with exit 1, counts printed, the lock
pinned on first use, a changed file named afterwards and re-pinned only with --repin; the registry's `sources`
validated like everything else."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.cli import main
from harness.data import lock
from zoo.errors import RegistryError
from zoo.registry.load import parse_registry, registry_paths


def _coco_by_hand(samples_dir, root):
    """The COCO sample laid out by hand in the reference layout."""
    (root / "coco/annotations").mkdir(parents=True)
    (root / "coco/person_detection_results").mkdir(parents=True)
    shutil.copytree(samples_dir / "coco", root / "coco/val2017", ignore=shutil.ignore_patterns("*.json"))
    shutil.copy(samples_dir / "coco/test_coco.json", root / "coco/annotations/person_keypoints_val2017.json")
    shutil.copy(
        samples_dir / "coco/test_coco_det_AP_H_56.json",
        root / "coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
    )


def _check(root, *extra) -> int:
    return main(["data", "check", "coco", "--data-root", str(root), *extra])


def test_hand_made_folder_passes_pins_and_catches_a_change(samples_dir, tmp_path, capsys):
    root = tmp_path / "data"
    _coco_by_hand(samples_dir, root)
    assert _check(root) == 0
    out = capsys.readouterr().out
    assert "coco/val2017: 4 images, 14 annotations" in out and "118 detections" in out and "data lock pinned" in out
    det = root / "coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
    dets = json.loads(det.read_text())
    dets[0]["score"] = 0.5  # a regenerated box file: same structure, other numbers
    det.write_text(json.dumps(dets))
    assert _check(root) == 1
    err = capsys.readouterr().err
    assert "COCO_val2017_detections_AP_H_56_person.json changed since the lock was pinned" in err
    assert "--repin" in err
    assert _check(root, "--repin") == 0
    assert _check(root) == 0


def test_every_problem_is_listed(samples_dir, tmp_path, capsys):
    root = tmp_path / "data"
    _coco_by_hand(samples_dir, root)
    ann = root / "coco/annotations/person_keypoints_val2017.json"
    gt = json.loads(ann.read_text())
    gt["images"][1]["id"] = gt["images"][0]["id"]  # duplicate image id
    gt["annotations"][1]["id"] = gt["annotations"][0]["id"]  # duplicate annotation id
    gt["annotations"][2]["keypoints"] = gt["annotations"][2]["keypoints"][:-3]  # 16 joints
    gt["categories"][0]["keypoints"] = gt["categories"][0]["keypoints"][:-1]
    ann.write_text(json.dumps(gt))
    (root / "coco/val2017" / gt["images"][2]["file_name"]).unlink()
    det = root / "coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
    dets = json.loads(det.read_text())
    dets[0]["category_id"] = 2
    dets[1]["score"] = float("nan")
    dets[2]["image_id"] = 999999999
    det.write_text(json.dumps(dets))
    assert _check(root) == 1
    err = capsys.readouterr().err
    for text in (
        "duplicate image ids",
        "duplicate annotation ids",
        "annotations without 3 * 17 finite keypoint values",
        "has 16 keypoints, the dataset's schema 17",
        "category_id other than 1",
        "without a finite score",
        "image id not in the annotation file",
    ):
        assert text in err, text
    assert not lock.lock_path(root).exists()  # a failed check pins nothing


def test_missing_images_and_undecodable_sample(samples_dir, tmp_path, capsys):
    root = tmp_path / "data"
    _coco_by_hand(samples_dir, root)
    first = sorted((root / "coco/val2017").iterdir())
    first[1].unlink()
    assert _check(root) == 1
    assert "referenced images missing" in capsys.readouterr().err
    shutil.copy(samples_dir / "coco" / first[1].name, first[1])
    gt = json.loads((root / "coco/annotations/person_keypoints_val2017.json").read_text())
    (root / "coco/val2017" / gt["images"][0]["file_name"]).write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    assert _check(root) == 1
    assert "sample image does not decode" in capsys.readouterr().err


def test_missing_paths_are_named(tmp_path, capsys):
    assert _check(tmp_path / "nothing") == 1
    err = capsys.readouterr().err
    assert "person_keypoints_val2017.json does not exist" in err and "val2017 does not exist" in err


def _parse(text: str):
    _, kp, bib = registry_paths()
    return parse_registry(text, keypoints_text=kp.read_text(), papers_text=bib.read_text())


IMAGES = "{from: val2017/, to: coco/val2017/}"
FORMAT = "        format: zip\n        urls: [http://images.cocodataset.org/zips/val2017.zip]"
ACCEPT = "        requires_acceptance: true\n      - name: images"
BAD_SOURCES = {
    "uncovered": (IMAGES, "{from: val2017/, to: coco/images/}", "img_dir 'coco/val2017/' is laid out by no source"),
    "kind": (IMAGES, "{from: val2017, to: coco/val2017/}", "both folders"),
    "dotdot": (IMAGES, "{from: ../val2017/, to: coco/val2017/}", "not a plain relative path"),
    "outside": (IMAGES, "{from: val2017/, to: aic/val2017/}", "outside the dataset's folder"),
    "format": (FORMAT, FORMAT.replace("zip", "rar", 1), "'rar'"),
    "acceptance": (ACCEPT, ACCEPT.replace("true", "yes please"), "true or false"),
}


@pytest.mark.parametrize(("old", "new", "message"), list(BAD_SOURCES.values()), ids=list(BAD_SOURCES))
def test_registry_sources_are_validated(repo_root, old, new, message):
    text = (repo_root / "zoo.yaml").read_text()
    assert old in text
    with pytest.raises(RegistryError, match=message):
        _parse(text.replace(old, new, 1))
