"""torch.hub's checkpoint folder as a source (issue 21.6): a published file planted there is verified and reused
without any HTTP request; one that does not verify is ignored with a warning naming it, and the download happens.
The server of these tests serves the same checkpoint: any request it records where none may happen fails the test."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checkpoints import store, torch_hub
from harness.errors import OfflineError

REPO = Path(__file__).resolve().parents[3]


def _plant(cache: Path, name: str, data: bytes) -> Path:
    """A file where torch.hub.load_state_dict_from_url would have put it, under $TORCH_HOME of the `cache` fixture."""
    folder = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _unchanged(path: Path, data: bytes, mtime_ns: int) -> bool:
    return path.is_file() and path.read_bytes() == data and path.stat().st_mtime_ns == mtime_ns


# -- where the folder is ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"TORCH_HOME": "{tmp}/th"},
        {"XDG_CACHE_HOME": "{tmp}/xdg"},
        {},  # ~/.cache/torch
        {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "{tmp}/ignored"},
    ],
    ids=["TORCH_HOME", "XDG_CACHE_HOME", "home", "TORCH_HOME-with-tilde-wins"],
)
def test_folder_agrees_with_torch_hub_get_dir(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch_hub_module = pytest.importorskip("torch.hub")
    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    assert torch_hub.hub_dir_from_env() == Path(torch_hub_module.get_dir())
    assert torch_hub.checkpoints_dir() == Path(torch_hub_module.get_dir()) / "checkpoints"


def test_folder_is_found_without_importing_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from harness.checkpoints import torch_hub\n"
        "print(torch_hub.checkpoints_dir())\n"
        "assert not [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
    )
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "th")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "th" / "hub" / "checkpoints")


# -- reuse ------------------------------------------------------------------------------------------------------


def test_planted_file_is_verified_and_used_without_a_download(serve, server, cache: Path) -> None:
    s = serve(full=True)
    server.fail(s.path, 500, times=None)  # belt and braces: a request could not succeed either
    planted = _plant(cache, s.checkpoint.filename, s.data)
    mtime = planted.stat().st_mtime_ns
    path = store.fetch(s.checkpoint, progress=False)
    assert server.requests == []
    assert path == store.expected_path(s.checkpoint) and path.read_bytes() == s.data
    record = json.loads(path.with_name(path.name + ".sha256").read_text())
    assert record["sha256"] == s.sha256 and record["source"] == f"torch.hub cache: {planted}"
    assert _unchanged(planted, s.data, mtime)
    # From now on it is our cache's file: found without looking at torch.hub again.
    planted.unlink()
    assert store.fetch(s.checkpoint, progress=False) == path
    assert store.cached_path(s.checkpoint) == path
    assert server.requests == []


def test_planted_file_is_used_offline(serve, server, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = serve()
    _plant(cache, s.checkpoint.filename, s.data)
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "1")
    assert store.fetch(s.checkpoint, progress=False).read_bytes() == s.data
    assert server.requests == []


def test_corrupted_planted_file_is_refused_with_a_warning_and_downloaded(serve, server, cache: Path, caplog) -> None:
    s = serve()
    bad = bytearray(s.data)
    bad[1000:1010] = b"\0" * 10
    planted = _plant(cache, s.checkpoint.filename, bytes(bad))
    mtime = planted.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="harness.checkpoints.torch_hub"):
        path = store.fetch(s.checkpoint, progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.name == "harness.checkpoints.torch_hub"]
    assert len(warnings) == 1 and str(planted) in warnings[0] and "\n" not in warnings[0]
    assert f"does not start with {s.checkpoint.sha256_prefix}" in warnings[0]
    assert len(server.requests_for(s.path)) == 1
    assert path.read_bytes() == s.data
    record = json.loads(path.with_name(path.name + ".sha256").read_text())
    assert record["source"] == s.checkpoint.url
    assert _unchanged(planted, bytes(bad), mtime)  # the user's file is left exactly as it was
    assert {p.name for p in cache.iterdir()} == {path.name, f"{path.name}.sha256", f"{path.name}.lock"}


def test_corrupted_planted_file_offline_is_still_an_offline_error(serve, server, cache: Path) -> None:
    s = serve()
    _plant(cache, s.checkpoint.filename, b"not the checkpoint")
    with pytest.raises(OfflineError):
        store.fetch(s.checkpoint, offline=True, progress=False)
    assert server.requests == []
    assert not store.expected_path(s.checkpoint).exists()


def test_force_downloads_and_leaves_the_torch_hub_file_alone(serve, server, cache: Path) -> None:
    s = serve()
    planted = _plant(cache, s.checkpoint.filename, s.data)
    mtime = planted.stat().st_mtime_ns
    path = store.fetch(s.checkpoint, progress=False)  # reused (a hardlink where the file system allows)
    assert server.requests == []
    assert store.fetch(s.checkpoint, force=True, progress=False) == path
    assert len(server.requests_for(s.path)) == 1
    assert _unchanged(planted, s.data, mtime)


def test_torch_hub_module_already_imported_is_asked(cache: Path, tmp_path: Path, monkeypatch) -> None:
    torch_hub_module = pytest.importorskip("torch.hub")
    # set_dir() stores its folder in torch.hub's module state; monkeypatch puts the old state (env-driven) back.
    monkeypatch.setattr(torch_hub_module, "_hub_dir", torch_hub_module._hub_dir)
    torch_hub_module.set_dir(str(tmp_path / "set-dir"))
    assert torch_hub.checkpoints_dir() == tmp_path / "set-dir" / "checkpoints"


def test_other_file_system_gets_a_copy(serve, server, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(*_args, **_kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(torch_hub.os, "link", no_link)
    s = serve()
    planted = _plant(cache, s.checkpoint.filename, s.data)
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data and not path.samefile(planted)
    assert server.requests == []
