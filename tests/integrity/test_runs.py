"""Integrity of runs (issue 13), as a careless or hostile user hits it: a damaged cached checkpoint, a resume after
a code change, an image change or another --chunk-size, a damaged chunk, an --out that holds the user's files, a
run with overrides under `reproduce`. Each case asserts what the user is owed: a clear error with nothing changed,
or the same bytes as an uninterrupted run. docs/RELIABILITY.md lists them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.demo.document import ENTRY_ID

ROW = f"{ENTRY_ID}/gt-bbox"


@pytest.fixture
def data(demo_data, tmp_path) -> Path:
    """A private copy of the demo data (tests change images in it)."""
    root = tmp_path / "data"
    shutil.copytree(demo_data, root)
    return root


def _evaluate(data: Path, out: Path, *extra: str) -> int:
    args = ["evaluate", ENTRY_ID, "--data-root", str(data), "--out", str(out), "--offline", "--device", "cpu"]
    return main([*args, "--no-progress", *extra])


def _interrupt_after(monkeypatch, n_chunks: int) -> list:
    """Ctrl-C in the middle of chunk n_chunks + 1 (the first n_chunks are saved)."""
    import harness.topdown.inference as inference

    real, calls = inference.predict_topdown, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == n_chunks + 1:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(inference, "predict_topdown", interrupted)
    return calls


def _record(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


def _same_outputs(a: Path, b: Path) -> None:
    for name in ("predictions.json", "metrics.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture
def baseline(workspace, data, tmp_path) -> Path:
    out = tmp_path / "baseline"
    assert _evaluate(data, out, "--chunk-size", "4") == 0
    return out


# ---------------------------------------------------------------------------------------------------------------
# 1. a damaged cached checkpoint


def _damage_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(st.st_size // 2)
        block = f.read(4096)
        f.seek(st.st_size // 2)
        f.write(bytes(b ^ 0xFF for b in block))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.slow
def test_damaged_cached_checkpoint_stops_the_run_instead_of_a_failed_verdict(workspace, data, capsys):
    assert main(["fetch", ENTRY_ID, "--offline"]) == 0
    (cached,) = (workspace / "cache").glob(f"{ENTRY_ID}-*.pth")
    _damage_keeping_size_and_mtime(cached)
    readme = (workspace / "README.md").read_text()
    rc = main(["reproduce", "--dataset", "demo", "--data-root", str(data), "--offline", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{cached} is not the published" in err and "Nothing was evaluated" in err
    assert "The damaged copy was moved to" in err and "python -m harness fetch" in err
    assert not (workspace / "results").exists()  # no verdict in the history
    assert not (workspace / "reports").exists()  # nor in reports/ or the README
    assert (workspace / "README.md").read_text() == readme


# ---------------------------------------------------------------------------------------------------------------
# 2-3. resumes: code changed, images changed, another chunk size, across a restart, a damaged chunk


@pytest.mark.slow
def test_resume_after_a_code_change_recomputes_everything(workspace, data, tmp_path, baseline, monkeypatch):
    import harness.identity as identity

    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 2)
    assert _evaluate(data, out, "--chunk-size", "4") == 130
    monkeypatch.undo()
    monkeypatch.setattr(identity, "code_digest", lambda: "an edited decode constant")  # `git pull`, an edit
    assert _evaluate(data, out, "--chunk-size", "4") == 0
    assert _record(out)["provenance"]["chunks"]["reused"] == 0
    assert _record(out)["identity"]["code"]["digest"] == "an edited decode constant"


@pytest.mark.slow
def test_resume_after_an_image_changed_recomputes_its_chunk(workspace, data, tmp_path, baseline, monkeypatch, caplog):
    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 2)
    assert _evaluate(data, out, "--chunk-size", "4") == 130
    monkeypatch.undo()
    first = sorted((data / "demo" / "images" / "val").iterdir())[0]
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))  # re-exported, same name
    assert _evaluate(data, out, "--chunk-size", "4") == 0
    assert "image file(s) changed since it was computed" in caplog.text and "chunk_00000" in caplog.text
    assert _record(out)["provenance"]["chunks"]["reused"] == 1  # chunk 1 kept, chunk 0 recomputed
    _same_outputs(out, baseline)


@pytest.mark.slow
@pytest.mark.parametrize(("first", "second"), [("4", "3"), ("3", "7"), ("2", "512")])
def test_resume_with_another_chunk_size_gives_the_same_bytes(
    workspace, data, tmp_path, baseline, monkeypatch, first, second
):
    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 1)
    assert _evaluate(data, out, "--chunk-size", first) == 130
    monkeypatch.undo()
    assert _evaluate(data, out, "--chunk-size", second) == 0
    _same_outputs(out, baseline)
    assert _record(out)["identity"]["chunks"] == {"items_per_chunk": int(second)}


@pytest.mark.slow
def test_resume_across_a_restart_gives_the_same_bytes(workspace, data, tmp_path, baseline, monkeypatch):
    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 2)
    assert _evaluate(data, out, "--chunk-size", "4") == 130
    monkeypatch.undo()
    args = ["evaluate", ENTRY_ID, "--data-root", str(data), "--out", str(out), "--offline", "--device", "cpu"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *args, "--no-progress", "--chunk-size", "4"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert _record(out)["provenance"]["chunks"]["reused"] == 2
    _same_outputs(out, baseline)


@pytest.mark.slow
def test_truncated_chunk_is_recomputed_with_a_warning(workspace, data, tmp_path, baseline, monkeypatch, caplog):
    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 2)
    assert _evaluate(data, out, "--chunk-size", "4") == 130
    monkeypatch.undo()
    (chunk,) = (out / ".chunks").glob("*/chunk_00001.npz")
    chunk.write_bytes(chunk.read_bytes()[:100])  # a full disk, a copy cut short
    assert _evaluate(data, out, "--chunk-size", "4") == 0
    assert f"chunk {chunk} cannot be reused: it cannot be read" in caplog.text
    assert _record(out)["provenance"]["chunks"]["reused"] == 1  # chunk 0; chunk 1 is computed again
    _same_outputs(out, baseline)


# ---------------------------------------------------------------------------------------------------------------
# 4. --out


def test_out_with_the_users_own_files_is_refused_before_the_model_runs(workspace, data, tmp_path, capsys, monkeypatch):
    import harness.models.entry as entry

    monkeypatch.setattr(entry, "build_from_entry", lambda *a, **k: pytest.fail("the model must not be built"))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "predictions.json").write_text("[]  my own predictions\n")
    assert _evaluate(data, out) == 2
    err = capsys.readouterr().err
    assert "holds predictions.json that this harness did not write" in err and "--overwrite" in err
    assert (out / "predictions.json").read_text() == "[]  my own predictions\n"


@pytest.mark.parametrize("kind", ["file", "below a file", "not writable"])
def test_unusable_out_is_a_clear_error_before_the_model_runs(workspace, data, tmp_path, capsys, monkeypatch, kind):
    import tempfile

    import harness.models.entry as entry

    monkeypatch.setattr(entry, "build_from_entry", lambda *a, **k: pytest.fail("the model must not be built"))
    (tmp_path / "afile").write_text("x")
    out = {"file": tmp_path / "afile", "below a file": tmp_path / "afile" / "sub"}.get(kind, tmp_path / "ro")
    if kind == "not writable":  # root ignores permission bits: make the folder refuse writes the way a mount would

        def refuse(*a, **k):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert _evaluate(data, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert ("is a file, not a folder" in err) if kind == "file" else ("cannot write to --out" in err)


@pytest.mark.slow
def test_out_of_another_run_needs_overwrite_and_files_follow_the_umask(workspace, data, tmp_path, baseline, capsys):
    before = baseline / "predictions.json"
    assert oct(before.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert _evaluate(data, baseline, "--chunk-size", "4") == 0  # the same run again: its own files
    assert _evaluate(data, baseline, "--chunk-size", "4", "--no-flip") == 2
    assert "holds the results of another run" in capsys.readouterr().err
    assert _record(baseline)["overrides"] == {}
    assert _evaluate(data, baseline, "--chunk-size", "4", "--no-flip", "--overwrite") == 0
    assert _record(baseline)["overrides"] == {"flip": False}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------------------------
# 6. a run with overrides under reproduce


@pytest.mark.slow
def test_reproduce_with_overrides_informs_and_keeps_the_reproduction(workspace, data, capsys):
    from zoo.cli import main as zoo_main

    cards = workspace / "exports" / "hf-cards"
    assert zoo_main(["export", "hf-cards", str(cards)]) == 0
    card = cards / ENTRY_ID / "README.md"
    documented_only = card.read_text()
    common = ["reproduce", "--dataset", "demo", "--data-root", str(data), "--offline", "--device", "cpu"]
    main([*common, "--no-progress"])
    assert card.read_text() != documented_only  # the run of record reaches the Hub card too, not only reports/
    plain = workspace / "runs" / ROW.replace("/", "__") / "published"
    before = (plain / "result.json").read_bytes()
    readme = (workspace / "README.md").read_text()
    capsys.readouterr()
    assert main([*common, "--no-progress", "--no-flip"]) == 0  # information, never the failure status
    out = capsys.readouterr().out
    assert "information only, not a reproduction: overrides flip=False" in out
    assert (plain / "result.json").read_bytes() == before
    assert (workspace / "runs" / ROW.replace("/", "__") / "published+flip=False" / "result.json").exists()
    assert (workspace / "README.md").read_text() == readme  # the documented row still shows the plain run
