"""`python -m benchmarks --quick` runs, writes well-formed JSON and the markdown rendered from it; the reference side
runs only where the MMPose 0.29 oracle venv exists (marked `oracle`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.__main__ import main
from benchmarks.suite import CASES, environment_name
from zoo import settings

EXPECTED_CHECKS = (
    "postprocess_dicts_identical",
    "predictions_file_reads_back_identical",
    "fast_scoring_identical_to_library",
)


def _run(tmp_path: Path, *extra: str) -> dict:
    assert main(["--quick", "--env-name", "test-env", "--out", str(tmp_path), "--repeats", "1", *extra]) == 0
    data = json.loads((tmp_path / "test-env-quick.json").read_text())
    assert report.main(["--check", str(tmp_path / "test-env-quick.json")]) == 0
    return data


def test_quick_ours_only(tmp_path: Path) -> None:
    data = _run(tmp_path, "--no-reference")
    assert set(data["cases"]) == set(CASES) and data["quick"] is True and data["threads"] == 1
    assert not [name for name, c in data["cases"].items() if "error" in c]
    case = data["cases"]["topdown_postprocess_score"]
    assert case["ours"]["seconds"] > 0 and case["reference"] is None and case["ratio"] is None
    assert all(case["checks"][c] for c in EXPECTED_CHECKS)
    assert set(case["ours"]["metrics"]) == {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}
    td = data["cases"]["topdown_crops_per_s"]
    assert td["checks"]["torch_crop_backend_bit_identical"] and td["ours"]["crops_per_s"] > 0
    for mode in ("tuned", "fast"):
        assert td["ours"][mode]["drift_vs_exact"]["keypoints"] == td["inputs"]["crops"] * 17
        assert td["ours"][mode]["crops_per_s"] > 0
    bu = data["cases"]["bottomup_seconds_per_image"]
    assert bu["ours"]["single"]["seconds"] > 0 and bu["ours"]["single"]["persons_per_image"][0] > 0
    assert bu["ours"]["single"]["tuned"]["seconds"] > 0 and bu["ours"]["single"]["fast"]["seconds"] > 0
    md = (tmp_path / "test-env-quick.md").read_text()
    assert all(name in md for name in CASES) and "do not edit" in md
    assert "| ours exact | reference | ratio exact | ours tuned | ratio tuned | ours fast | ratio fast |" in md


def test_check_mode_detects_a_stale_table(tmp_path: Path) -> None:
    _run(tmp_path, "--no-reference", "--only", "topdown_postprocess_score")
    md = tmp_path / "test-env-quick.md"
    md.write_text(md.read_text() + "hand edit\n")
    assert report.main(["--check", str(tmp_path / "test-env-quick.json")]) == 1


def test_only_keeps_the_other_rows_with_when_they_were_measured(tmp_path: Path) -> None:
    """--only replaces one row; the others keep the time, commit and load of the run that measured them (an
    older file without per-case records lends them its own)."""
    old = {"environment": {"load_average_at_start": [3.0, 2.0, 1.0]}, "generated_at": "2026-01-02T03:04:05+00:00",
           "git": {"sha": "0123456789abcdef", "dirty": False}, "quick": True, "repeats": 1, "threads": 1,
           "cases": {"bottomup_seconds_per_image": {"unit": "s/image", "what": "old row", "ours": {"seconds": 9.0},
                                                     "reference": None, "ratio": None}}}  # fmt: skip
    (tmp_path / "test-env-quick.json").write_text(json.dumps(old))
    cases = _run(tmp_path, "--no-reference", "--only", "topdown_postprocess_score")["cases"]
    kept, new = cases["bottomup_seconds_per_image"], cases["topdown_postprocess_score"]
    assert kept["what"] == "old row" and kept["ours"] == {"seconds": 9.0}
    assert kept["measured"] == {"at": old["generated_at"], "git": old["git"], "load_average_at_start": [3.0, 2.0, 1.0]}
    assert new["measured"]["at"] > old["generated_at"] and new["measured"]["git"] != old["git"]
    md = (tmp_path / "test-env-quick.md").read_text()
    assert "measured 2026-01-02T03:04:05+00:00, git 0123456789ab, load average at start 3.0, 2.0, 1.0" in md


def test_environment_name_is_a_slug() -> None:
    name = environment_name()
    assert name.startswith("cpu-") and "-torch" in name and " " not in name


@pytest.mark.oracle
@pytest.mark.slow
def test_quick_with_reference(tmp_path: Path) -> None:
    from harness.oracle import oracle_python

    if settings.ORACLE.raw() == "0":  # tests/oracle/conftest.py's switch
        pytest.skip("HRNET_ZOO_ORACLE=0")
    if oracle_python() is None:
        pytest.skip("the oracle venv is not built (python oracle/build_env.py)")
    cases = _run(tmp_path)["cases"]
    case = cases["topdown_postprocess_score"]
    assert case["reference"]["seconds"] > 0 and case["ratio"] > 0
    assert case["checks"]["metrics_identical_to_reference"] and case["checks"]["results_identical_to_reference"]
    assert cases["topdown_crops_per_s"]["checks"]["exact_keypoints_match_reference_1e-3px"]
    assert cases["topdown_crops_per_s"]["reference"]["threads"] == 1
    assert cases["bottomup_seconds_per_image"]["checks"]["single_same_person_count_as_reference"]
