"""Bottom-up resume (issue 13, case 3): interrupted with one --chunk-size and resumed with another, the run writes
the same bytes as an uninterrupted one, and no image is left without predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from zoo import load_registry

ENTRY = "hrnet_w32_aic_512x512"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from harness.models.random_weights import make_random_checkpoint

    arch = load_registry().entry(ENTRY).architecture
    return make_random_checkpoint(arch, tmp_path_factory.mktemp("ckpt") / "bu.pth", seed=3, input_size=(64, 64))


def _evaluate(samples_dir: Path, checkpoint: Path, out: Path, chunk_size: int) -> int:
    aic = samples_dir / "aic"
    return main(
        ["evaluate", ENTRY, "--checkpoint", str(checkpoint), "--ann-file", str(aic / "test_aic.json"),
         "--img-dir", str(aic), "--device", "cpu", "--no-progress", "--no-flip", "--out", str(out),
         "--chunk-size", str(chunk_size)]
    )  # fmt: skip


@pytest.mark.slow
def test_bottomup_resume_with_another_chunk_size(workspace, samples_dir, checkpoint, tmp_path, monkeypatch):
    import harness.bottomup.inference as inference

    baseline = tmp_path / "baseline"
    assert _evaluate(samples_dir, checkpoint, baseline, 96) == 0  # 3 images in one chunk
    real, calls = inference.predict_bottomup_dataset, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    out = tmp_path / "run"
    monkeypatch.setattr(inference, "predict_bottomup_dataset", interrupted)
    assert _evaluate(samples_dir, checkpoint, out, 32) == 130  # one image per chunk; the first one saved
    monkeypatch.undo()
    assert _evaluate(samples_dir, checkpoint, out, 64) == 0  # two images per chunk
    for name in ("predictions.json", "metrics.json"):
        assert (out / name).read_bytes() == (baseline / name).read_bytes(), name
    gt = json.loads((samples_dir / "aic" / "test_aic.json").read_text())
    predicted = {p["image_id"] for p in json.loads((out / "predictions.json").read_text())}
    baseline_ids = {p["image_id"] for p in json.loads((baseline / "predictions.json").read_text())}
    assert predicted == baseline_ids and predicted <= {img["id"] for img in gt["images"]}
