"""Reports show a run's data fingerprint (`provenance.data`) and warn when it differs from the data lock; records
without it render as before (tests/harness/test_report_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

from harness import report
from zoo import load_registry
from zoo.results import history

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "history"
RECORD = "20250304T093000_hrnet_w32_aic_256x192__gt-bbox_e498c42dde789d3d.json"


def _render(tmp_path, data: dict) -> str:
    folder = tmp_path / "history"
    folder.mkdir()
    record = json.loads((FIXTURES / RECORD).read_text())
    record["provenance"]["data"] = data
    (folder / RECORD).write_text(json.dumps(record))
    return report.render(load_registry(), history.load(folder), tmp_path / "out", plots=False)["aic.md"]


def _data(**changes) -> dict:
    data = {"split": "val", "digest": "c" * 64, "files": 5, "images": 3, "lock_digest": "d" * 64, "differences": []}
    return {**data, **changes}


def test_the_data_a_number_was_computed_on_is_shown(tmp_path):
    page = _render(tmp_path, _data())
    assert f"| data | `{'d' * 12}` (5 files read, 3 images decoded, split val) |" in page  # the lock's digest
    assert "Not a reproduction" not in page


def test_data_that_differs_from_the_lock_is_named_and_labelled(tmp_path):
    diff = "aic/images/1.jpg changed since the lock was pinned: sha256 aaaa... -> bbbb..."
    page = _render(tmp_path, _data(differences=[diff]))
    assert f"| data | `{'c' * 12}` (not the locked data) (5 files read" in page  # what was read, not the lock's
    assert "**Not a reproduction: the data differs from the data lock**" in page and f"- {diff}" in page


def test_a_record_from_before_the_image_pins_still_renders(tmp_path):
    """provenance.data of issue 15 (annotation hash, image list digest, lock_warnings): no digest to show."""
    old = {
        "annotations": {"sha256": "a" * 64, "size": 10},
        "bbox_file": None,
        "images": {"count": 3, "list_sha256": "b" * 64},
        "lock_warnings": ["aic/annotations/aic_val.json changed since the lock was pinned: sha256 x -> y"],
    }
    page = _render(tmp_path, old)
    assert "| data | not recorded |" in page
    assert "- aic/annotations/aic_val.json changed since the lock was pinned" in page
