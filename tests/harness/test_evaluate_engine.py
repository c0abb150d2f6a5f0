"""The evaluate verb end to end on the AIC sample with the real AIC top-down architecture (seeded random weights):
standardized predictions (batch size and workers do not matter), recorded protocol/overrides/provenance, and a
clear error for each bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main

ENTRY = "hrnet_w32_aic_256x192"


def _evaluate(out: Path, samples_dir: Path, checkpoint: Path, *extra: str) -> int:
    aic = samples_dir / "aic"
    return main(
        [
            "evaluate",
            ENTRY,
            "--checkpoint",
            str(checkpoint),
            "--ann-file",
            str(aic / "test_aic.json"),
            "--img-dir",
            str(aic),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, samples_dir, aic_td_checkpoint) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    assert _evaluate(out, samples_dir, aic_td_checkpoint.path, "--batch-size", "32") == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("extra", [("--batch-size", "1"), ("--batch-size", "7", "--workers", "2")], ids=str)
def test_predictions_do_not_depend_on_batch_size_or_workers(tmp_path, samples_dir, aic_td_checkpoint, baseline, extra):
    assert _evaluate(tmp_path, samples_dir, aic_td_checkpoint.path, *extra) == 0
    assert (tmp_path / "predictions.json").read_bytes() == (baseline / "predictions.json").read_bytes()
    assert (tmp_path / "metrics.json").read_bytes() == (baseline / "metrics.json").read_bytes()


def test_outputs_and_provenance(baseline, aic_td_checkpoint):
    preds = json.loads((baseline / "predictions.json").read_text())
    assert len(preds) == 9  # 9 GT boxes in 3 images; no two overlap enough for OKS-NMS at 0.9
    assert {"image_id", "category_id", "keypoints", "score"} <= set(preds[0])
    assert len(preds[0]["keypoints"]) == 14 * 3
    metrics = json.loads((baseline / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"AP", "AP50", "AP75", "AR", "AR50"}
    assert len(metrics["per_keypoint"]) == 14
    result = json.loads((baseline / "result.json").read_text())
    assert result["row_id"] == f"{ENTRY}/gt-bbox" and result["protocol"] == "published" and result["overrides"] == {}
    prov = result["provenance"]
    assert prov["checkpoint"]["sha256"].startswith(aic_td_checkpoint.sha256_prefix)
    assert prov["checkpoint_registry_prefix"] == "30a4e465"
    assert len(prov["annotations"]["sha256"]) == 64 and prov["git"]["sha"]
    assert {"torch", "numpy", "xtcocotools"} <= set(prov["packages"])
    settings = prov["settings"]
    assert settings["device"] == "cpu" and settings["dtype"] == "float32" and settings["mode"] == "exact"
    assert settings["tf32_matmul"] is False and settings["cudnn_benchmark"] is False
    assert result["identity"]["protocol_resolved"]["era"]["gt_box_shrink"] is True
    assert result["partial"] and "not the reference layout" in result["partial_reason"]


def test_overrides_and_protocol_are_recorded(tmp_path, samples_dir, aic_td_checkpoint):
    assert _evaluate(tmp_path, samples_dir, aic_td_checkpoint.path, "--no-flip", "--protocol", "mmpose-0.29") == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["overrides"] == {"flip": False} and result["protocol"] == "mmpose-0.29"
    resolved = result["identity"]["protocol_resolved"]
    assert resolved["flip"] is False and resolved["era"]["name"] == "mmpose-0.29"
    assert resolved["era"]["gt_box_shrink"] is False


def _err(capsys) -> str:
    return capsys.readouterr().err


def test_bad_inputs_give_clear_errors(tmp_path, samples_dir, aic_td_checkpoint, capsys):
    ck = aic_td_checkpoint.path
    aic = samples_dir / "aic"
    # a missing image
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    for f in aic.glob("*.jpg"):
        (img_dir / f.name).symlink_to(f)
    missing = sorted(img_dir.iterdir())[0]
    missing.unlink()
    rc = main(
        [
            "evaluate",
            ENTRY,
            "--checkpoint",
            str(ck),
            "--ann-file",
            str(aic / "test_aic.json"),
            "--img-dir",
            str(img_dir),
            "--out",
            str(tmp_path / "o1"),
            "--no-progress",
        ]
    )
    assert rc == 2 and missing.name in _err(capsys)
    # --ann-file without --img-dir
    rc = main(
        [
            "evaluate",
            ENTRY,
            "--checkpoint",
            str(ck),
            "--ann-file",
            str(aic / "test_aic.json"),
            "--out",
            str(tmp_path / "o2"),
        ]
    )
    assert rc == 2 and "--img-dir" in _err(capsys)
    # --scales on a top-down row
    assert _evaluate(tmp_path / "o3", samples_dir, ck, "--scales", "2,1") == 2
    assert "bottom-up rows only" in _err(capsys)
    # a checkpoint path that does not exist
    assert _evaluate(tmp_path / "o4", samples_dir, tmp_path / "nope.pth") == 2
    assert "nope.pth is not a file" in _err(capsys)
    # an unknown entry: close matches
    assert main(["evaluate", "hrnet_w32_aic_256x19", "--out", str(tmp_path / "o5")]) == 2
    assert "hrnet_w32_aic_256x192" in _err(capsys)
    # nothing was written for any failed run
    assert not any((tmp_path / f"o{i}" / "result.json").exists() for i in range(1, 6))


def test_checkpoint_with_other_keypoint_count_is_named(tmp_path, samples_dir, capsys):
    from harness.models.random_weights import make_random_checkpoint
    from zoo import load_registry

    coco_arch = load_registry().entry("hrnet_w32_coco_256x192_coarsedropout").architecture  # K=17, not AIC's 14
    ck = make_random_checkpoint(coco_arch, tmp_path / "k17.pth", seed=0, calibrate_bn=False)
    assert _evaluate(tmp_path / "out", samples_dir, ck) == 2
    err = _err(capsys)
    assert "keypoint_head.final_layer.weight" in err and "17" in err and "14" in err


def test_empty_detection_file_is_an_error(tmp_path, samples_dir, capsys):
    from harness.models.random_weights import make_random_checkpoint
    from zoo import load_registry

    arch = load_registry().entry("hrnet_w32_coco_256x192_coarsedropout").architecture
    ck = make_random_checkpoint(arch, tmp_path / "coco.pth", seed=0, calibrate_bn=False)
    empty = tmp_path / "dets.json"
    empty.write_text("[]")
    coco = samples_dir / "coco"
    shutil.copy(coco / "test_coco.json", tmp_path / "ann.json")
    rc = main(
        [
            "evaluate",
            "hrnet_w32_coco_256x192_coarsedropout",
            "--checkpoint",
            str(ck),
            "--ann-file",
            str(tmp_path / "ann.json"),
            "--img-dir",
            str(coco),
            "--bbox-file",
            str(empty),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert rc == 2 and "dets.json" in _err(capsys)


def test_fast_scoring_gives_the_same_metrics_and_is_recorded(tmp_path, samples_dir, aic_td_checkpoint, baseline):
    assert _evaluate(tmp_path, samples_dir, aic_td_checkpoint.path, "--scoring", "fast") == 0
    fast = json.loads((tmp_path / "metrics.json").read_text())
    lib = json.loads((baseline / "metrics.json").read_text())
    assert fast["metrics"] == lib["metrics"] and fast["per_keypoint"] == lib["per_keypoint"]
    assert (tmp_path / "predictions.json").read_bytes() == (baseline / "predictions.json").read_bytes()
    settings = json.loads((tmp_path / "result.json").read_text())["provenance"]["settings"]
    assert settings["scoring"]["requested"] == "fast" and settings["scoring"]["backend"] == "fast"
