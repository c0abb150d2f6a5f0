"""The data a verdict is judged on (issue 22, items 3 and 5), as the user hits it with `reproduce --dataset demo` on a
10-image demo split: a run records which data it was computed on (the data lock's digest, in the report and the
README); images changed in place (other pixels at the same byte size, or bit rot that keeps size and mtime) or a
changed annotation file are named, and the run does not count as a reproduction until the data is re-pinned."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.cli import main
from harness.data import lock
from harness.demo.document import ENTRY_ID

ROW = f"{ENTRY_ID}/gt-bbox"
pytestmark = pytest.mark.slow


@pytest.fixture
def data(demo_data, tmp_path, capsys) -> Path:
    """A private copy of the demo data, checked and pinned as a user would before reproducing."""
    root = tmp_path / "data"
    shutil.copytree(demo_data, root)
    assert main(["data", "check", "demo", "--data-root", str(root)]) == 0
    assert "data lock pinned" in capsys.readouterr().out
    return root


def _reproduce(data: Path) -> int:
    return main(["reproduce", "--dataset", "demo", "--data-root", str(data), "--offline", "--device", "cpu"])


def _last_record(workspace: Path) -> dict:
    return json.loads(sorted((workspace / "results/history").glob("*.json"))[-1].read_text())


def _repaint_keeping_size_and_mtime(path: Path) -> None:
    """Other pixels at the same byte size (a black square; the PNG padded after its end), rewritten in place (same
    inode) with its mtime restored: what the old lock (names and sizes) could not see, and what bit rot leaves."""
    st = path.stat()
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    image[8:40, 8:40] = 0
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    data = encoded.tobytes()
    assert ok and len(data) <= st.st_size
    with path.open("r+b") as f:  # same inode
        f.write(data + b"\0" * (st.st_size - len(data)))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and np.array_equal(cv2.imread(str(path)), image)


def test_a_run_on_the_pinned_data_counts_and_names_its_data(workspace, data, capsys):
    assert _reproduce(data) in (0, 1)
    out = capsys.readouterr().out
    record = _last_record(workspace)
    digest = lock.dataset_lock(data, "demo").splits["val"].digest
    assert record["provenance"]["data"]["lock_digest"] == digest and record["provenance"]["data"]["differences"] == []
    assert record["informational"] == [] and "information only" not in out  # it counts as a reproduction
    assert f"`{digest[:12]}`" in (workspace / "reports/demo.md").read_text()
    assert f"`{digest[:12]}` |" in (workspace / "reports/index.md").read_text()
    readme_row = next(line for line in (workspace / "README.md").read_text().splitlines() if f"`{ENTRY_ID}`" in line)
    assert f"`{digest[:12]}`" in readme_row


def test_images_changed_in_place_do_not_count_and_are_named(workspace, data, capsys):
    images = sorted((data / "demo/images/val").iterdir())
    changed = images[2:4]
    for path in changed:
        _repaint_keeping_size_and_mtime(path)
    rc = _reproduce(data)
    out = capsys.readouterr().out
    assert rc == 0  # a run that does not count never fails a reproduction: it informs
    record = _last_record(workspace)
    differences = record["provenance"]["data"]["differences"]
    for path in changed:
        assert any(f"demo/images/val/{path.name} changed since the lock was pinned" in d for d in differences)
    assert any("data differs from the data lock" in r for r in record["informational"])
    assert "information only, not a reproduction: data differs from the data lock (2 file(s)" in out
    assert f"demo/images/val/{changed[0].name}" in out
    page = (workspace / "reports/demo.md").read_text()
    assert "informational (" in page and "Not a reproduction: the data differs from the data lock" in page
    assert "(not the locked data)" in page
    # `data check --full` reads every byte (a routine check may trust the stat cache: bit rot keeps size and mtime)
    assert main(["data", "check", "demo", "--data-root", str(data), "--full"]) == 1
    assert f"demo/images/val/{changed[0].name} changed since the lock was pinned" in capsys.readouterr().err


def test_a_changed_annotation_file_warns_and_does_not_count_until_repinned(workspace, data, capsys):
    ann = data / "demo/annotations/val.json"
    gt = json.loads(ann.read_text())
    gt["annotations"][0]["area"] = gt["annotations"][0]["area"] * 2  # a regenerated file: another area, same ids
    ann.write_text(json.dumps(gt))
    assert _reproduce(data) == 0
    captured = capsys.readouterr()
    assert "warning: demo: demo/annotations/val.json changed since the lock was pinned" in captured.err
    assert "the run will not count as a reproduction" in captured.err
    record = _last_record(workspace)
    assert any("demo/annotations/val.json changed" in d for d in record["provenance"]["data"]["differences"])
    assert record["informational"]
    readme_row = next(line for line in (workspace / "README.md").read_text().splitlines() if f"`{ENTRY_ID}`" in line)
    assert "informational (" in readme_row and "(not the locked data)" in readme_row
    assert main(["data", "check", "demo", "--data-root", str(data), "--repin"]) == 0  # the user re-pins on purpose
    assert _reproduce(data) in (0, 1)
    assert _last_record(workspace)["informational"] == []
