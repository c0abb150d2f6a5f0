"""Adding a dataset that reuses an existing evaluator is a change to zoo.yaml, keypoints.yaml and papers.bib only
(docs/DESIGN.md, "Adding a dataset"): the registry's three files are copied into a temporary folder, a made-up
5-keypoint "hand" dataset is added to them (its own schema, its own generated annotation file and images), and the
row is evaluated end to end with a checkpoint made here; the metrics are checked against pycocotools, called
directly with the hand's sigmas."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from harness.cli import main
from harness.models.random_weights import make_random_checkpoint
from zoo import load_registry
from zoo.registry.load import registry_paths

HAND = ("wrist", "thumb_tip", "index_tip", "middle_tip", "little_tip")
SIGMAS = (0.05, 0.03, 0.03, 0.03, 0.04)
ENTRY = "hrnet_w8_hand_64x64"

KEYPOINTS_YAML = f"""
  hand:
    keypoints: [{", ".join(HAND)}]
    flip_pairs: []
    sigmas: [{", ".join(map(str, SIGMAS))}]
"""
PAPER = """
@misc{handtest2026,
  title = {A five-keypoint hand set made up by a test},
  author = {Test, A.},
  year = {2026}
}
"""
DATASET = {
    "key": "hand",
    "name": "Hand (test)",
    "paper": "handtest2026",
    "keypoint_schema": "hand",
    "task": "Hand 2D Keypoint",
    "annotations": "coco-json",
    "evaluator": "coco_keypoints",
    "splits": {"test": {"ann_file": "hand/annotations/test.json", "img_dir": "hand/images/"}},
}
TEMPLATE = {
    "paradigm": "topdown",
    "flip": True,
    "shift_heatmap": True,
    "scales": [1],
    "padding": 1.25,
    "boxes": {"kind": "gt"},
    "evaluator": {"kind": "coco_keypoints", "library": "xtcocotools", "sigmas": "hand"},
    "era": {"name": "current"},
}
ENTRY_DOC = {
    "id": ENTRY,
    "name": "HRNet-W8 top-down, hand (test), 64x64",
    "architecture": {
        "backbone": "hrnet", "width": 8, "head": "heatmap", "input_size": [64, 64], "heatmap_sizes": [[16, 16]],
        "num_keypoints": 5, "keypoint_schema": "hand",
    },
    "checkpoint": {"url": "file:hand/hrnet_w8_hand_64x64-00000000_20260101.pth", "sha256_prefix": "00000000"},
    "config": "tests/harness/test_third_dataset.py",
    "papers": ["sun2019deep", "handtest2026"],
    "dataset": "hand",
    "results": [{
        "name": "gt-bbox", "dataset": "hand", "split": "test",
        "metrics": {"AP": 0.5, "AP50": 0.5, "AP75": 0.5, "AR": 0.5, "AR50": 0.5},
        "source": {"seed": "made-up"}, "protocol": {"base": "td-hand-gt"},
    }],
}  # fmt: skip


def _registry_with_hand(folder: Path) -> Path:
    """The checkout's zoo.yaml, keypoints.yaml and papers.bib with the hand dataset added (data only)."""
    zoo_yaml, keypoints_yaml, papers_bib = registry_paths()
    doc = yaml.safe_load(zoo_yaml.read_text(encoding="utf-8"))  # anchors and merge keys resolved
    doc["protocols"]["td-hand-gt"] = TEMPLATE
    doc["datasets"].append(DATASET)
    doc["entries"].append(ENTRY_DOC)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zoo.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (folder / "keypoints.yaml").write_text(keypoints_yaml.read_text(encoding="utf-8") + KEYPOINTS_YAML)
    (folder / "papers.bib").write_text(papers_bib.read_text(encoding="utf-8") + PAPER)
    return folder / "zoo.yaml"


def _write_split(root: Path, keypoints: list[np.ndarray]) -> Path:
    """One hand per image, on its own noise background; GT keypoints as given ([5, 2] each, all labelled)."""
    rng = np.random.default_rng(7)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, kpts in enumerate(keypoints):
        name = f"{i:04d}.png"
        if not (root / "images" / name).exists():
            cv2.imwrite(str(root / "images" / name), rng.integers(0, 256, (80, 96, 3), dtype=np.uint8))
        images.append({"id": i + 1, "file_name": name, "height": 80, "width": 96})
        flat = [v for x, y in kpts for v in (round(float(x), 2), round(float(y), 2), 2)]
        anns.append({
            "id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [20, 16, 48, 40], "area": 1200.0,
            "iscrowd": 0, "num_keypoints": 5, "keypoints": flat,
        })  # fmt: skip
    ann_file = root / "annotations" / "test.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "hand", "keypoints": list(HAND)}]}
    ann_file.write_text(json.dumps(gt))
    return ann_file


def _evaluate(ann_file: Path, img_dir: Path, checkpoint: Path, out: Path) -> dict:
    argv = ["evaluate", f"{ENTRY}/gt-bbox", "--checkpoint", str(checkpoint), "--ann-file", str(ann_file)]
    argv += ["--img-dir", str(img_dir), "--out", str(out), "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def _pycocotools(ann_file: Path, predictions: Path) -> dict[str, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(ann_file))
    dt = gt.loadRes(str(predictions))
    ev = COCOeval(gt, dt, "keypoints")
    ev.params.kpt_oks_sigmas = np.array(SIGMAS)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    s = ev.stats
    return {"AP": s[0], "AP50": s[1], "AP75": s[2], "AR": s[5], "AR50": s[6]}


@pytest.mark.slow
def test_a_third_dataset_is_data_only_and_evaluates_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(_registry_with_hand(tmp_path / "registry")))
    registry = load_registry()
    assert registry.datasets["hand"].annotations == "coco-json" and registry.schemas["hand"].keypoints == HAND
    arch = registry.entry(ENTRY).architecture
    checkpoint = make_random_checkpoint(arch, tmp_path / "hand.pth", seed=11, input_size=(64, 64))
    data = tmp_path / "data"
    # First run: where does this network put the joints? Its predictions become the GT of the second run, with
    # half of the hands moved away by known amounts, so that AP lies strictly between 0 and 1.
    first = _write_split(data, [np.full((5, 2), 40.0)] * 6)
    _evaluate(first, data / "images", checkpoint, tmp_path / "first")
    preds = json.loads((tmp_path / "first" / "predictions.json").read_text())
    moved = []
    for p in sorted(preds, key=lambda p: p["image_id"]):
        xy = np.asarray(p["keypoints"], dtype=np.float64).reshape(5, 3)[:, :2]
        shift = 0.0 if p["image_id"] % 2 else 1.5 * p["image_id"]
        moved.append(xy + shift)
    ann_file = _write_split(data, moved)
    metrics = _evaluate(ann_file, data / "images", checkpoint, tmp_path / "second")
    want = _pycocotools(ann_file, tmp_path / "second" / "predictions.json")
    assert set(metrics["metrics"]) == set(want)
    for name, value in want.items():
        assert metrics["metrics"][name] == pytest.approx(value, abs=1e-9), name
    assert 0.0 < metrics["metrics"]["AP"] < 1.0
    assert set(metrics["per_keypoint"]) == set(HAND)
