"""First contact is fast: the verbs that run no model never import torch, timm or OpenCV (issue #16).

Each case runs the real CLI in a fresh interpreter with `-X importtime` and reads which modules it imported, so a
heavy import anywhere on the path (a package __init__, a verb module, the scorer) fails the test. The timings
themselves are measured, not asserted (docs/DESIGN.md, "First contact").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.predictions import jittered_predictions

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm", "cv2")


def _imported(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "harness", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # -X importtime writes "import time: self [us] | cumulative | <indent>module" lines on stderr.
    modules = {ln.rsplit("|", 1)[1].strip() for ln in res.stderr.splitlines() if ln.startswith("import time:")}
    modules.discard("package")  # the header line
    return res, modules


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["score", "--help"], ["fetch", "--help"], ["doctor", "--help"], ["inspect", "no-such-entry"]],
    ids=["help", "score-help", "fetch-help", "doctor-help", "inspect-unknown-id"],
)
def test_cli_start_imports_no_torch(argv):
    res, modules = _imported(*argv)
    assert res.returncode in (0, 2), res.stderr[-2000:]
    assert "harness.cli" in modules  # the probe sees the CLI's own imports
    assert _heavy(modules) == []


def test_fetch_of_an_entry_imports_no_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("HRNET_ZOO_CACHE", str(tmp_path / "cache"))
    res, modules = _imported("fetch", "--offline", "--no-progress", "hrnet_w32_aic_256x192")
    assert res.returncode == 1 and "error: hrnet_w32_aic_256x192" in res.stderr  # not cached, offline: named
    assert "harness.checkpoints.store" in modules
    assert _heavy(modules) == []


def test_score_with_the_evaluator_of_record_imports_no_torch(samples_dir, tmp_path):
    ann = samples_dir / "coco" / "test_coco.json"
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(jittered_predictions(ann)))
    res, modules = _imported(
        "score",
        "hrnet_w32_coco_256x192_coarsedropout",
        "--predictions",
        str(preds),
        "--ann-file",
        str(ann),
        "--scoring",
        "library",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert '"AP"' in res.stdout
    assert "xtcocotools.mask" in modules  # the evaluator of record ran
    assert _heavy(modules) == []


def test_report_check_imports_no_torch():
    res, modules = _imported("report", "--check")
    assert res.returncode in (0, 1), res.stderr[-2000:]  # 1: reports stale, which is not this test's business
    assert "harness.report" in modules
    assert _heavy(modules) == []
