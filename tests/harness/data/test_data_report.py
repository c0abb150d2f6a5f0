"""Reports show a run's data fingerprint (`provenance.data`) and warn when it differs from the data lock; records
without it render as before (tests/harness/test_report_golden.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness import report
from zoo import history, load_registry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "history"
RECORD = "20250304T093000_hrnet_w32_aic_256x192__gt-bbox_e498c42dde789d3d.json"


def _render(tmp_path, data: dict) -> str:
    folder = tmp_path / "history"
    folder.mkdir()
    record = json.loads((FIXTURES / RECORD).read_text())
    record["provenance"]["data"] = data
    (folder / RECORD).write_text(json.dumps(record))
    return report.render(load_registry(), history.load(folder), tmp_path / "out", plots=False)["aic.md"]


def test_data_fingerprint_and_lock_warning_are_shown(tmp_path):
    fp = {
        "annotations": {"sha256": "a" * 64, "size": 10},
        "bbox_file": None,
        "images": {"count": 3, "list_sha256": "b" * 64},
        "lock_warnings": ["aic/annotations/aic_val.json changed since the lock was pinned: sha256 x -> y"],
    }
    page = _render(tmp_path, fp)
    assert f"| data | annotations `{'a' * 16}`, 3 images (list `{'b' * 16}`) |" in page
    assert "**Warning: the data differs from the data lock**" in page
    assert "- aic/annotations/aic_val.json changed since the lock was pinned" in page


def test_same_data_shows_no_warning(tmp_path):
    fp = {
        "annotations": {"sha256": "a" * 64, "size": 1},
        "bbox_file": None,
        "images": {"count": 3, "list_sha256": "b" * 64},
    }
    page = _render(tmp_path, fp)
    assert "| data |" in page and "Warning" not in page
    shutil.rmtree(tmp_path / "history")
