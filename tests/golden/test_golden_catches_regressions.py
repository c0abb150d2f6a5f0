"""Proof that the goldens catch protocol regressions: a case re-run with one protocol detail changed must FAIL its
golden comparison, with a readable diff naming the moved keypoints and the metric deltas (so CI would fail)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.golden.cases import BY_NAME, run_case
from tests.helpers import golden

REGRESSIONS = [
    # PROTOCOLS.md §3: flipped heatmap shifted one column right. Without the shift every flip-averaged peak moves.
    ("standin_td_aic__published", {"shift_heatmap": False}, ["joint", "moved", "metric AP"]),
    # PROTOCOLS.md §2.1, §8 item 1: ATRW test padding is 1.0; 1.25 zooms out, so the decoded grid (and keypoints) move.
    ("standin_td_atrw__published", {"padding": 1.25}, ["joint", "moved"]),
    # The same flip-shift regression on random weights of the real W32 architecture.
    ("td_w32_aic__published", {"shift_heatmap": False}, ["joint", "moved"]),
    # PROTOCOLS.md §4: HigherHRNet stage aggregation of the 2020 era (upsample_to_last) vs direct.
    ("standin_bu_hhr_coco__published", {"era": "direct"}, ["joint"]),
]


@pytest.mark.parametrize(("name", "changes", "expect"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_protocol_change_fails_the_golden(name, changes, expect, registry, samples_dir, tmp_path):
    case = BY_NAME[name]
    if not case.path.exists():
        pytest.skip(f"{case.path} not accepted yet")
    if changes.get("era") == "direct":
        era = dataclasses.replace(registry.row(case.row).protocol.era, stage_aggregation="direct")
        changes = {"era": era}
    broken = dataclasses.replace(case, changes=changes)
    doc = run_case(broken, registry=registry, samples_dir=samples_dir, work=tmp_path)
    with pytest.raises(golden.GoldenMismatchError) as info:
        golden.check(case.path, doc, accept=False)
    message = str(info.value)
    assert f"golden {case.path.name}" in message
    for word in expect:
        assert word in message, message
    assert "expected (" in message and "got (" in message  # expected vs got per joint
    print(message)  # shown with -s: what a CI log would show


def test_accept_is_never_silent(tmp_path):
    """A missing golden fails and says how to create it; accepting writes it; a later run matches."""
    doc = golden.make_golden(
        case="tiny",
        about="",
        predictions=[{"image_id": 1, "score": 0.5, "keypoints": [1.0, 2.0, 0.9]}],
        metrics={"AP": 0.25},
        keypoint_names=["nose"],
    )
    path = tmp_path / "tiny.json"
    with pytest.raises(golden.GoldenMissingError, match="HRNET_ZOO_ACCEPT_GOLDEN=1"):
        golden.check(path, doc, accept=False)
    assert not path.exists()
    assert golden.check(path, doc, accept=True) == "written"
    assert golden.check(path, doc, accept=False) == "match"
    noisy = dict(doc, predictions=[{"image_id": 1, "score": 0.50000001, "keypoints": [[1.001, 2.0, 0.9]]}])
    assert golden.check(path, noisy, accept=True) == "match"  # within tolerance: the file is not rewritten
    moved = dict(doc, metrics={"AP": 0.3}, predictions=[{"image_id": 1, "score": 0.5, "keypoints": [[5.0, 2.0, 0.9]]}])
    with pytest.raises(golden.GoldenMismatchError) as info:
        golden.check(path, moved, accept=False)
    text = str(info.value)
    assert "image 1 instance 0 joint 0 (nose): expected (1.000, 2.000, s=0.9), got (5.000, 2.000, s=0.9)" in text
    assert "moved 4.000 px" in text
    assert "metric AP: expected 0.25, got 0.3 (delta +0.050000, tolerance 0.0005)" in text
