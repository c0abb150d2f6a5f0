"""`python -m harness inspect` on checkpoints a careless user or a bad server produces (issue 13.7/13.8).

Each case is a real file on disk: a tensor saved as int64, an HTML page or an S3 error under a `.pth` name, a
safetensors file named `.pth`, a Git LFS pointer, a 0-byte file, a truncated torch zip, a hand-placed file in the cache
that is not the published one. The owed behaviour: the real format is named, the exit status says what happened,
nothing is deleted, and no input gives a traceback.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from harness.checkpoints.cache import expected_path
from harness.checkpoints.convert import sha256_of
from harness.checkpoints.safe_load import load_checkpoint
from harness.cli import main
from harness.commands import inspect as inspect_cmd
from harness.errors import StateDictMismatchError
from harness.models.entry import build_from_entry
from harness.models.random_weights import make_random_checkpoint
from zoo.registry.schema import Architecture, Checkpoint, Entry, Registry

ARCH = Architecture("hrnet", 8, "heatmap", (64, 64), ((16, 16),), 5, "test")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return make_random_checkpoint(ARCH, tmp_path_factory.mktemp("pub") / "tiny.pth", seed=3, input_size=(64, 64))


@pytest.fixture
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: Path) -> Entry:
    monkeypatch.setenv("HRNET_ZOO_CACHE", str(tmp_path / "cache"))
    ckpt = Checkpoint(url=f"https://example.org/tiny_w8-{sha256_of(published)[:8]}_20210101.pth",
                      sha256_prefix=sha256_of(published)[:8])  # fmt: skip
    e = Entry("tiny-w8", "tiny", ARCH, ckpt, "configs/tiny.py", (), "test", ())
    registry = Registry(entries={e.id: e}, datasets={}, schemas={}, papers={})
    monkeypatch.setattr(inspect_cmd, "_load_registry", lambda: registry)
    return e


def inspect(capsys, *argv: str) -> tuple[int, dict, str]:
    """(exit status, the --json report, the text output) of `python -m harness inspect tiny-w8 ARGV`."""
    code = main(["inspect", "tiny-w8", "--json", *argv])
    report = json.loads(capsys.readouterr().out)
    assert main(["inspect", "tiny-w8", *argv]) == code
    return code, report, capsys.readouterr().out


# -- dtypes -------------------------------------------------------------------------------------------------------


def test_int64_weight_does_not_pass_strict_load(entry: Entry, published: Path, tmp_path: Path, capsys) -> None:
    raw = torch.load(published, weights_only=False)
    key = "keypoint_head.final_layer.weight"
    raw["state_dict"][key] = (raw["state_dict"][key] * 1000).long()
    bad = tmp_path / "int64.pth"
    torch.save(raw, bad)
    code, report, text = inspect(capsys, "--checkpoint", str(bad))
    assert code == 1 and report["strict_load_ok"] is False and report["status"] == "does not fit"
    assert report["key_differences"]["wrong_dtype"] == [{"key": key, "model": "float32", "checkpoint": "int64"}]
    assert "strict load: does not fit" in text and f"{key}: model float32 vs checkpoint int64" in text
    assert "wrong dtype" in text
    # ... and a run that builds the model stops before its first forward pass.
    with pytest.raises(StateDictMismatchError, match="int64"):
        build_from_entry(entry, checkpoint=bad)


def test_half_precision_weights_still_load(entry: Entry, published: Path, tmp_path: Path, capsys) -> None:
    raw = torch.load(published, weights_only=False)
    raw["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in raw["state_dict"].items()}
    half = tmp_path / "fp16.pth"
    torch.save(raw, half)
    code, report, _ = inspect(capsys, "--checkpoint", str(half))
    assert code == 0 and report["strict_load_ok"] is True


# -- formats --------------------------------------------------------------------------------------------------------


def _zip_without_torch(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("weights/readme.txt", "hello")


def _torch_zip_cut_in_half(path: Path, published: Path) -> None:
    data = published.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CASES = {
    "empty": (lambda p, _: p.write_bytes(b""), "is empty (0 bytes)"),
    "html": (lambda p, _: p.write_text("\n<!DOCTYPE html><html><head><title>Sign in</title>"), "is an HTML page"),
    "s3-error": (
        lambda p, _: p.write_text('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'),
        "is an XML document",
    ),
    "lfs-pointer": (
        lambda p, _: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n"),
        "is a Git LFS pointer",
    ),
    "zip": (lambda p, _: _zip_without_torch(p), "is a zip archive that is not a torch.save file"),
    "pickle": (lambda p, _: p.write_bytes(pickle.dumps({"a": 1}, protocol=4)), "is a plain Python pickle"),
    "gzip": (lambda p, pub: p.write_bytes(gzip.compress(pub.read_bytes()[:1000])), "is gzip-compressed"),
    "truncated": (_torch_zip_cut_in_half, "truncated or damaged"),
    "text": (lambda p, _: p.write_text('{"state_dict": {}}'), "is a text file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_file_that_is_not_a_checkpoint_is_named_by_its_format(
    entry: Entry, published: Path, tmp_path: Path, capsys, case: str
) -> None:
    write, phrase = CASES[case]
    path = tmp_path / "model.pth"
    write(path, published)
    code, report, text = inspect(capsys, "--checkpoint", str(path))
    assert code == 2 and report["status"] == "not a checkpoint" and report["error_type"] == "CheckpointFormatError"
    assert phrase in report["error"] and str(path) in report["error"] and phrase in text
    assert "unsafe" not in report["error"] and "opcode" not in report["error"] and "operand" not in report["error"]
    assert path.exists()


def test_safetensors_named_pth_loads_by_its_content(entry: Entry, published: Path, tmp_path: Path, capsys) -> None:
    from harness.checkpoints.convert import convert_to_safetensors

    st = convert_to_safetensors(published, tmp_path / "w.safetensors").dst
    misnamed = tmp_path / "w.pth"
    os.replace(st, misnamed)
    code, report, _ = inspect(capsys, "--checkpoint", str(misnamed))
    assert code == 0 and report["checkpoint"]["format"] == "safetensors" and report["strict_load_ok"] is True
    expected = load_checkpoint(published).state_dict
    assert all(torch.equal(v, expected[k]) for k, v in load_checkpoint(misnamed).state_dict.items())


@pytest.mark.slow
def test_zero_byte_checkpoint_gives_no_traceback_from_the_real_cli(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "inspect", "hrnet_w8_demo_128x96", "--checkpoint", str(empty)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HRNET_ZOO_CACHE": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "is empty (0 bytes)" in proc.stdout


# -- a hand-placed file in the cache ----------------------------------------------------------------------------


def test_hand_placed_file_that_does_not_verify_is_reported_and_kept(entry: Entry, tmp_path: Path, capsys) -> None:
    other = make_random_checkpoint(ARCH, tmp_path / "other.pth", seed=4, calibrate_bn=False)
    target = expected_path(entry.checkpoint)
    target.parent.mkdir(parents=True)
    target.write_bytes(other.read_bytes())
    code, report, text = inspect(capsys)
    assert code == 1 and report["status"] == "does not verify" and report["checkpoint"]["source"] == "cache"
    assert report["checkpoint"]["hash_matches_registry"] is False and report["strict_load_ok"] is True
    assert "DIFFERS from registry prefix" in text and "never deleted" in text
    assert target.read_bytes() == other.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # nothing added, moved or removed


def test_hand_placed_html_page_in_the_cache_is_named_and_kept(entry: Entry, capsys) -> None:
    target = expected_path(entry.checkpoint)
    target.parent.mkdir(parents=True)
    target.write_text("<html><body>Please log in</body></html>")
    code, report, _ = inspect(capsys)
    assert code == 2 and "is an HTML page" in report["error"] and target.exists()
