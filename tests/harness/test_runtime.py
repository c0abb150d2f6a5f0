"""Numeric settings: what a non-exact result quotes about its mode's measured drift, in every situation."""

from __future__ import annotations

import json

import pytest

from harness import runtime
from harness.runtime import RunSettings, default_amp_dtype, measured_drift

ROWS = [
    {"mode": "tuned", "amp_dtype": None, "val_images": 80, "AP_drift": 0.0, "AR_drift": 0.0,
     "keypoints_moved_share": 0.0},
    {"mode": "fast", "amp_dtype": "bfloat16", "val_images": 80, "AP_drift": -0.0011, "AR_drift": -0.0028,
     "keypoints_moved_share": 0.058},
]  # fmt: skip


@pytest.fixture
def drift_file(tmp_path, monkeypatch):
    path = tmp_path / "measured_drift.json"
    monkeypatch.setattr(runtime, "DRIFT_FILE", path)
    return path


def test_a_fast_run_quotes_its_rows(drift_file):
    drift_file.write_text(json.dumps({"format": 1, "measurements": {"cpu": {"model": "demo", "rows": ROWS}}}))
    quoted = measured_drift(RunSettings(device="cpu", mode="fast", autocast_dtype="bfloat16"))
    assert quoted["measured_on"] == "cpu" and quoted["rows"] == [
        {"val_images": 80, "AP_drift": -0.0011, "AR_drift": -0.0028, "keypoints_moved_share": 0.058}
    ]
    # a CUDA run without CUDA measurements quotes the CPU ones and says where they come from
    assert measured_drift(RunSettings(device="cuda", mode="tuned"))["measured_on"] == "cpu"
    # a combination nobody measured says so instead of quoting another one's numbers
    note = measured_drift(RunSettings(device="cpu", mode="fast", autocast_dtype="float16"))
    assert note == {"note": "fast mode with float16 was never measured"}


@pytest.mark.parametrize("text", [None, "{not json", '{"format": 1}'])
def test_a_missing_or_broken_file_gives_a_note_not_a_crash(drift_file, text):
    if text is not None:
        drift_file.write_text(text)
    note = measured_drift(RunSettings(device="cpu", mode="tuned"))["note"]
    assert "python -m benchmarks.drift" in note


def test_exact_results_quote_nothing_and_fast_defaults_per_device():
    assert "measured_drift" not in RunSettings(device="cpu").record()
    assert default_amp_dtype("cuda:1") == "float16" and default_amp_dtype("cpu") == "bfloat16"


def test_the_committed_measurements_are_well_formed():
    from benchmarks import drift

    assert drift.check() == 0


@pytest.mark.parametrize(
    ("native", "settings", "warned"),
    [
        (False, RunSettings(device="cpu", mode="fast", autocast_dtype="bfloat16"), True),
        (True, RunSettings(device="cpu", mode="fast", autocast_dtype="bfloat16"), False),
        (None, RunSettings(device="cpu", mode="fast", autocast_dtype="bfloat16"), False),  # torch cannot say
        (False, RunSettings(device="cpu", mode="tuned"), False),
        (False, RunSettings(device="cpu", mode="fast", autocast_dtype="float16"), False),
    ],
)
def test_fast_mode_warns_where_the_cpu_emulates_bf16(monkeypatch, native, settings, warned):
    """bf16 autocast on a CPU without native bf16 ran at 0.2x of exact (benchmarks/results/*-avx2-*): say so."""
    monkeypatch.setattr(runtime, "native_cpu_bf16", lambda: native)
    note = runtime.autocast_note(settings)
    assert (note is not None) == warned
    if warned:
        assert "--mode tuned" in note and "slower than --mode exact" in note


def test_the_cpu_bf16_query_answers():
    assert runtime.native_cpu_bf16() in (True, False, None)


def test_evaluate_and_reproduce_print_the_warning_once(monkeypatch, capsys, tmp_path):
    from harness.cli import build_parser
    from harness.commands import evaluate
    from harness.demo.document import ENTRY_ID
    from zoo import load_registry

    monkeypatch.setattr(runtime, "native_cpu_bf16", lambda: False)
    monkeypatch.setattr(evaluate, "_WARNED", set())
    registry = load_registry()
    argv = ["evaluate", ENTRY_ID, "--mode", "fast", "--device", "cpu", "--out", str(tmp_path)]
    args = build_parser().parse_args(argv)
    for _ in range(2):  # reproduce builds one spec per row
        evaluate.spec_from_args(args, registry, registry.row(ENTRY_ID, first_if_many=True), data=None)
    assert capsys.readouterr().err.count("warning: --mode fast autocasts to bf16") == 1
