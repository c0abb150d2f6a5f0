"""The checkpoint store against a real HTTP server on 127.0.0.1: downloads, resume, verification, offline."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from harness import transfer
from harness.checkpoints import cache as cache_files
from harness.checkpoints import store
from harness.errors import DownloadError, HarnessError, OfflineError
from zoo import settings
from zoo.registry.schema import Checkpoint


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def assert_holds_nothing_under(cache: Path, checkpoint: Checkpoint, *, part_allowed: bool = False) -> None:
    """After a failure: no file under the checkpoint's name, no sidecar, no temporary files."""
    name = checkpoint.filename
    allowed = {f"{name}.lock"} | ({f"{name}.part"} if part_allowed else set())
    assert names(cache) <= allowed, names(cache)


# -- where the cache is -----------------------------------------------------------------------------------------


def test_cache_dir_override_variable(cache: Path) -> None:
    assert settings.cache_dir() == cache


def test_cache_dir_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRNET_ZOO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.cache_dir() == tmp_path / "xdg" / "hrnet-zoo" / "checkpoints"


def test_cache_dir_defaults_to_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRNET_ZOO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")  # XDG spec: relative paths are invalid
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings.cache_dir() == tmp_path / ".cache" / "hrnet-zoo" / "checkpoints"


def test_fetch_lands_in_xdg_cache(serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.delenv("HRNET_ZOO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    assert path == tmp_path / "xdg" / "hrnet-zoo" / "checkpoints" / s.checkpoint.filename
    assert path.read_bytes() == s.data


# -- success ----------------------------------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_records_a_sidecar(serve, server, cache: Path) -> None:
    s = serve(full=True)
    path = store.fetch(s.checkpoint)
    assert path == store.expected_path(s.checkpoint) == cache / s.checkpoint.filename
    assert path.read_bytes() == s.data
    name = s.checkpoint.filename
    assert names(cache) == {name, f"{name}.sha256", f"{name}.lock"}
    record = json.loads((cache / f"{name}.sha256").read_text())
    assert record["sha256"] == s.sha256 and record["size"] == len(s.data)
    assert record["source"] == s.checkpoint.url
    # A second fetch and cached_path trust the sidecar: no request, same path.
    assert store.fetch(s.checkpoint) == path
    assert store.cached_path(s.checkpoint) == path
    assert len(server.requests_for(s.path)) == 1


def test_file_sha256_streams(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"abc" * 1000)
    import hashlib

    assert store.file_sha256(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert store.file_sha256(f) == store.file_sha256(f, chunk_size=7)


# -- verification failures --------------------------------------------------------------------------------------


def test_hash_mismatch_is_an_error_and_leaves_nothing(serve, cache: Path) -> None:
    s = serve(body=b"not the published bytes" * 1000)
    with pytest.raises(store.ChecksumMismatchError) as info:
        store.fetch(s.checkpoint, progress=False)
    err = info.value
    assert isinstance(err, DownloadError) and isinstance(err, OSError) and isinstance(err, HarnessError)
    assert err.expected == s.checkpoint.sha256_prefix
    assert err.actual != s.sha256 and err.actual in str(err) and s.checkpoint.sha256_prefix in str(err)
    assert "--force" in str(err)
    assert_holds_nothing_under(cache, s.checkpoint)


@pytest.mark.parametrize("field", ["sha256", "size"])
def test_full_hash_and_size_from_the_record_are_checked(serve, cache: Path, field: str) -> None:
    s = serve(full=True)
    wrong = {"sha256": "0" * 64, "size": len(s.data) + 1}[field]
    ckpt = Checkpoint(**{**s.checkpoint.__dict__, field: wrong})
    with pytest.raises(store.ChecksumMismatchError):
        store.fetch(ckpt, progress=False)
    assert_holds_nothing_under(cache, ckpt)


def test_corrupt_cached_file_is_set_aside_and_downloaded_again(serve, server, cache: Path) -> None:
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    path.write_bytes(b"bit rot")  # size and mtime change: the sidecar no longer vouches for it
    assert store.fetch(s.checkpoint, progress=False) == path
    assert path.read_bytes() == s.data
    assert len(server.requests_for(s.path)) == 2
    [aside] = [p for p in cache.iterdir() if ".unverified-" in p.name]
    assert aside.read_bytes() == b"bit rot"  # renamed, never deleted: it might have been the user's


def test_cached_path_rehash_catches_what_size_and_mtime_cannot(serve, server, cache: Path) -> None:
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    st = path.stat()
    path.write_bytes(bytes(len(s.data)))  # same size ...
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and mtime: the documented blind spot
    assert store.cached_path(s.checkpoint) == path
    assert store.cached_path(s.checkpoint, rehash=True) is None
    assert path.read_bytes() == bytes(len(s.data))  # a look-up never changes the file ...
    assert not (cache / f"{path.name}.sha256").exists()  # ... but drops the sidecar that vouched for it
    assert store.cached_path(s.checkpoint) is None
    assert store.fetch(s.checkpoint, progress=False) == path and path.read_bytes() == s.data
    assert len(server.requests_for(s.path)) == 2


def test_hand_placed_file_is_hashed_once_then_trusted(serve, cache: Path) -> None:
    s = serve()
    target = store.expected_path(s.checkpoint)
    target.parent.mkdir(parents=True)
    target.write_bytes(s.data)
    assert store.cached_path(s.checkpoint) == target
    assert json.loads((cache / f"{target.name}.sha256").read_text())["sha256"] == s.sha256


def test_hand_placed_bad_file_is_kept_never_returned(serve, cache: Path) -> None:
    s = serve()
    target = store.expected_path(s.checkpoint)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"wrong")
    assert store.cached_path(s.checkpoint) is None
    assert target.read_bytes() == b"wrong"


def test_force_sets_a_hand_placed_file_aside_instead_of_replacing_it(serve, server, cache: Path) -> None:
    s = serve()
    target = store.expected_path(s.checkpoint)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"my own experiment")
    assert store.fetch(s.checkpoint, force=True, progress=False) == target and target.read_bytes() == s.data
    [aside] = [p for p in cache.iterdir() if ".unverified-" in p.name]
    assert aside.read_bytes() == b"my own experiment"


# -- interrupted transfers --------------------------------------------------------------------------------------


def test_cut_off_transfer_resumes_with_a_range_request(serve, server, cache: Path) -> None:
    s = serve()
    server.truncate(s.path, after=100_000)
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data
    first, second = server.requests_for(s.path)
    assert "range" not in first.headers and first.body_bytes == 100_000
    assert second.headers["range"] == "bytes=100000-" and second.status == 206
    assert names(cache) == {s.checkpoint.filename + x for x in ("", ".sha256", ".lock")}


def test_interrupted_fetch_keeps_part_and_next_call_resumes(serve, server, cache: Path) -> None:
    s = serve()
    server.truncate(s.path, after=10_000, times=None)  # every answer is cut off
    with pytest.raises(DownloadError, match="cut off") as info:
        store.fetch(s.checkpoint, progress=False)
    assert not isinstance(info.value, OfflineError)
    part = cache / f"{s.checkpoint.filename}.part"
    kept = part.stat().st_size
    assert kept == 10_000 * (transfer.MAX_RESUMES + 1)
    assert_holds_nothing_under(cache, s.checkpoint, part_allowed=True)
    assert store.cached_path(s.checkpoint) is None

    server.add(s.path, s.data)  # the network is back (faults cleared)
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data
    assert server.requests_for(s.path)[-1].headers["range"] == f"bytes={kept}-"
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(serve, server, cache: Path) -> None:
    s = serve()
    server.truncate(s.path, after=50_000)
    server.ignore_range(s.path)
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data
    second = server.requests_for(s.path)[1]
    assert second.headers["range"] == "bytes=50000-" and second.status == 200


def test_range_not_satisfiable_with_complete_part_verifies_it(serve, server, cache: Path) -> None:
    s = serve()
    cache.mkdir()
    (cache / f"{s.checkpoint.filename}.part").write_bytes(s.data)  # a crash between last byte and rename
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data
    assert [r.status for r in server.requests_for(s.path)] == [416]


def test_stale_part_that_does_not_verify_is_downloaded_again(serve, server, cache: Path) -> None:
    s = serve()
    cache.mkdir()
    (cache / f"{s.checkpoint.filename}.part").write_bytes(b"x" * (len(s.data) + 10))  # longer than the file: 416
    path = store.fetch(s.checkpoint, progress=False)
    assert path.read_bytes() == s.data
    assert [r.status for r in server.requests_for(s.path)] == [416, 200]


# -- server errors and offline ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_names_status_and_url(serve, server, cache: Path, status: int) -> None:
    s = serve()
    server.fail(s.path, status)
    with pytest.raises(DownloadError) as info:
        store.fetch(s.checkpoint, progress=False)
    assert not isinstance(info.value, OfflineError)
    assert f"HTTP {status}" in str(info.value) and s.checkpoint.url in str(info.value)
    assert_holds_nothing_under(cache, s.checkpoint)


def _assert_offline_message(err: OfflineError, checkpoint: Checkpoint) -> None:
    msg = str(err)
    assert checkpoint.url in msg
    assert str(store.expected_path(checkpoint)) in msg
    assert f"sha256 must start with {checkpoint.sha256_prefix}" in msg


@pytest.mark.parametrize("how", ["HRNET_ZOO_OFFLINE", "HF_HUB_OFFLINE", "argument"])
def test_offline_mode_names_url_and_manual_path(serve, server, cache, monkeypatch, how: str) -> None:
    s = serve()
    if how == "argument":
        call = lambda: store.fetch(s.checkpoint, offline=True)  # noqa: E731
    else:
        monkeypatch.setenv(how, "1")
        call = lambda: store.fetch(s.checkpoint)  # noqa: E731
    with pytest.raises(OfflineError) as info:
        call()
    _assert_offline_message(info.value, s.checkpoint)
    assert server.requests == []
    assert_holds_nothing_under(cache, s.checkpoint)


def test_unreachable_host_is_offline(cache: Path, closed_port: int) -> None:
    ckpt = Checkpoint(url=f"http://127.0.0.1:{closed_port}/x/tiny-1a2b3c4d_20240101.pth", sha256_prefix="1a2b3c4d")
    with pytest.raises(OfflineError, match="unreachable") as info:
        store.fetch(ckpt, progress=False)
    _assert_offline_message(info.value, ckpt)
    assert_holds_nothing_under(cache, ckpt)


def test_offline_still_serves_cached_and_hand_placed_files(serve, server, cache, monkeypatch) -> None:
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "1")
    assert store.fetch(s.checkpoint) == path
    other = serve(store_bytes := b"hand-placed" * 100)
    target = store.expected_path(other.checkpoint)
    target.write_bytes(store_bytes)
    assert store.fetch(other.checkpoint) == target
    assert len(server.requests) == 1


def test_force_downloads_again_and_keeps_old_copy_on_failure(serve, server, cache) -> None:
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    assert store.fetch(s.checkpoint, force=True, progress=False) == path
    assert len(server.requests_for(s.path)) == 2
    server.fail(s.path, 500)
    with pytest.raises(DownloadError):
        store.fetch(s.checkpoint, force=True, progress=False)
    assert store.cached_path(s.checkpoint) == path  # the verified copy survives a failed re-download


# -- concurrency ------------------------------------------------------------------------------------------------


def test_second_fetcher_waits_for_the_lock_and_reuses_the_result(serve, server, cache) -> None:
    s = serve()
    paths = cache_files.CachePaths(store.expected_path(s.checkpoint))
    cache.mkdir()
    result: list[Path] = []
    with cache_files.locked(paths.lock):  # another process is downloading ...
        worker = threading.Thread(target=lambda: result.append(store.fetch(s.checkpoint, progress=False)))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive() and server.requests == []  # ... so this one waits
        paths.final.write_bytes(s.data)  # ... and finishes the file
    worker.join(timeout=10)
    assert result == [paths.final] and server.requests == []
