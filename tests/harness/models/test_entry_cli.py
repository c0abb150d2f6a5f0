"""build_from_entry and the `inspect` / `convert` verbs, on a tiny registry and random MMPose-format files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from harness.checkpoints.convert import sha256_of
from harness.checkpoints.safe_load import load_checkpoint
from harness.cli import main
from harness.commands import convert as convert_cmd
from harness.commands import inspect as inspect_cmd
from harness.errors import CheckpointError
from harness.models.entry import build_from_entry
from harness.models.random_weights import make_random_checkpoint
from zoo.registry.schema import Architecture, Checkpoint, Entry, Registry

ARCH = Architecture("hrnet", 8, "heatmap", (64, 64), ((16, 16),), 5, "test")


def _entry(prefix: str) -> Entry:
    ckpt = Checkpoint(url=f"https://example.org/tiny_w8-{prefix}_20210101.pth", sha256_prefix=prefix)
    return Entry("tiny-w8", "tiny", ARCH, ckpt, "configs/tiny.py", (), "test", ())


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return make_random_checkpoint(ARCH, tmp_path_factory.mktemp("pub") / "tiny.pth", seed=11, input_size=(64, 64))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: Path):
    """A registry with one entry whose published file is `published`; an empty cache in tmp_path."""
    monkeypatch.setenv("HRNET_ZOO_CACHE", str(tmp_path / "cache"))
    entry = _entry(sha256_of(published)[:8])
    registry = Registry(entries={entry.id: entry}, datasets={}, schemas={}, papers={})
    monkeypatch.setattr(inspect_cmd, "_load_registry", lambda: registry)
    monkeypatch.setattr(convert_cmd, "_load_registry", lambda: registry)
    return entry, registry


def _cache(entry: Entry, published: Path) -> Path:
    from harness.checkpoints.cache import expected_path

    dst = expected_path(entry.checkpoint)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(published, dst)
    return dst


def _inspect(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["inspect", "tiny-w8", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_build_from_entry_with_own_checkpoint(env, published: Path) -> None:
    entry, registry = env
    model = build_from_entry("tiny-w8", checkpoint=published, registry=registry)
    sd = load_checkpoint(published).state_dict
    assert not model.training and all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
    with pytest.raises(CheckpointError, match="harness fetch tiny-w8"):
        build_from_entry(entry)  # nothing cached


def test_build_from_entry_uses_the_cache(env, published: Path) -> None:
    entry, _ = env
    _cache(entry, published)
    model = build_from_entry(entry)
    assert torch.equal(model.backbone.conv1.weight, load_checkpoint(published).state_dict["backbone.conv1.weight"])


def test_inspect_without_checkpoint(env, capsys) -> None:
    code, report = _inspect(capsys)
    assert code == 0 and report["checkpoint"] is None and report["status"] == "no checkpoint"
    assert report["params"] == sum(p.numel() for p in build_from_entry.__globals__["build_model"](ARCH).parameters())
    assert report["strict_load_ok"] is False
    main(["inspect", "tiny-w8"])
    assert "no checkpoint" in capsys.readouterr().out


def test_inspect_cached_published_file(env, published: Path, capsys) -> None:
    _cache(env[0], published)
    code, report = _inspect(capsys)
    assert code == 0 and report["strict_load_ok"] is True
    ck = report["checkpoint"]
    assert ck["source"] == "cache" and ck["hash_matches_registry"] is True and ck["sha256"] == sha256_of(published)
    assert ck["meta"]["epoch"] == 210


def test_inspect_own_checkpoint_that_does_not_fit(env, tmp_path: Path, capsys) -> None:
    other = make_random_checkpoint(
        Architecture("hrnet", 8, "heatmap", (64, 64), ((16, 16),), 7, "t"), tmp_path / "k7.pth", seed=0,
        calibrate_bn=False,
    )  # fmt: skip
    code, report = _inspect(capsys, "--checkpoint", str(other))
    assert code == 1 and report["strict_load_ok"] is False
    assert report["checkpoint"]["hash_matches_registry"] is False
    assert report["key_differences"]["mismatched"][0]["key"].startswith("keypoint_head.final_layer")
    assert "wrong keypoint count" in report["error"]
    assert main(["inspect", "tiny-w8", "--checkpoint", str(other)]) == 1
    assert "wrong keypoint count" in capsys.readouterr().out


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_inspect_unsafe_file_exits_2(env, tmp_path: Path, capsys) -> None:
    marker, evil = tmp_path / "PWNED", tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"x": _Evil(marker)}}, evil)
    code, report = _inspect(capsys, "--checkpoint", str(evil))
    assert code == 2 and report["strict_load_ok"] is False and "system" in report["error"]
    assert report["error_type"] == "UnsafeCheckpointError" and not marker.exists()


def test_convert_verb(env, published: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.safetensors"
    assert main(["convert", "tiny-w8", "--out", str(out)]) == 2  # not cached: CheckpointError -> exit 2
    assert "harness fetch tiny-w8" in capsys.readouterr().err
    _cache(env[0], published)
    assert main(["convert", "tiny-w8", "--out", str(out)]) == 0
    assert main(["convert", "--checkpoint", str(published), "--out", str(tmp_path / "p.safetensors")]) == 0
    a, b = load_checkpoint(out).state_dict, load_checkpoint(published).state_dict
    assert all(torch.equal(a[k], v) for k, v in b.items())
    capsys.readouterr()
    code, report = _inspect(capsys, "--checkpoint", str(out))
    assert code == 0 and report["strict_load_ok"] is True and report["checkpoint"]["format"] == "safetensors"
