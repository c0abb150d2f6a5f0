"""`store.verified_for_run`: the check a run makes of the checkpoint it is about to load (issue 13.1).

The shipped demo checkpoint (a real 9 MB MMPose-format file, `file:` URL) is damaged in the cache the way bit rot or a
careless edit would: 4 KiB of tensor bytes flipped, size and mtime kept, so the sidecar still vouches for it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.checkpoints import store
from harness.checkpoints.hashing import file_sha256
from harness.errors import CheckpointError, ChecksumMismatchError
from zoo.registry.schema import Entry

DEMO = "hrnet_w8_demo_128x96"


@pytest.fixture
def demo(cache: Path) -> Entry:
    import zoo

    return zoo.load_registry().entry(DEMO)


def flip_4k_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    at = st.st_size // 2  # inside the tensor data of the zip
    with path.open("r+b") as f:
        f.seek(at)
        block = f.read(4096)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in block))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_damaged_cached_checkpoint_stops_the_run_offline(demo: Entry, cache: Path) -> None:
    path = store.fetch(demo.checkpoint, progress=False)
    published = file_sha256(path)
    flip_4k_keeping_size_and_mtime(path)
    # fetch's sidecar shortcut cannot see an edit that keeps size and mtime (documented); the run's own hash does.
    assert store.fetch(demo.checkpoint, offline=True) == path
    with pytest.raises(ChecksumMismatchError) as info:
        store.verified_for_run(demo.checkpoint, path, offline=True)
    err, msg = info.value, str(info.value)
    assert err.actual != published and err.actual in msg and demo.checkpoint.sha256_prefix in msg
    assert str(path) in msg and "Nothing was evaluated" in msg and "harness fetch" in msg
    aside = cache / f"{path.name}.unverified-{err.actual[:8]}"
    assert err.path == str(aside) and aside.is_file() and not path.exists()  # set aside, not deleted
    # The next fetch installs the published file again.
    assert store.fetch(demo.checkpoint, progress=False) == path and file_sha256(path) == published


def test_damaged_cached_checkpoint_is_fetched_again_once_when_online(demo: Entry, cache: Path) -> None:
    path = store.fetch(demo.checkpoint, progress=False)
    published = file_sha256(path)
    flip_4k_keeping_size_and_mtime(path)
    run = store.verified_for_run(demo.checkpoint, path, offline=False)
    assert run == store.RunCheckpoint(path, published, path.stat().st_size, published=True)
    assert file_sha256(path) == published
    assert len([p for p in cache.iterdir() if ".unverified-" in p.name]) == 1


def test_refetch_that_serves_other_bytes_stops_the_run(serve, server, cache: Path) -> None:
    s = serve()
    path = store.fetch(s.checkpoint, progress=False)
    flip_4k_keeping_size_and_mtime(path)
    server.add(s.path, b"a different file" * 20_000)
    with pytest.raises(ChecksumMismatchError, match="Fetching it again failed") as info:
        store.verified_for_run(s.checkpoint, path, offline=False)
    assert info.value.actual in str(info.value) and s.checkpoint.sha256_prefix in str(info.value)
    assert not path.exists() and len(server.requests_for(s.path)) == 2


def test_intact_checkpoint_is_hashed_by_the_run_not_the_sidecar(demo: Entry, cache: Path) -> None:
    path = store.fetch(demo.checkpoint, progress=False)
    run = store.verified_for_run(demo.checkpoint, path)
    assert run.published and run.sha256 == file_sha256(path) and run.sha256.startswith(demo.checkpoint.sha256_prefix)


def test_own_checkpoint_is_hashed_and_marked_not_published(demo: Entry, tmp_path: Path, cache: Path) -> None:
    own = tmp_path / "mine.pth"
    own.write_bytes(store.fetch(demo.checkpoint, progress=False).read_bytes() + b"fine-tuned")
    run = store.verified_for_run(None, own)
    assert run == store.RunCheckpoint(own, file_sha256(own), own.stat().st_size, published=False)


def test_other_file_claimed_as_published_is_refused_and_left_alone(demo: Entry, tmp_path: Path, cache) -> None:
    other = tmp_path / "copy.pth"
    other.write_bytes(b"not the demo weights" * 100)
    with pytest.raises(ChecksumMismatchError, match="is not the published") as info:
        store.verified_for_run(demo.checkpoint, other)
    assert str(other) in str(info.value) and "--checkpoint" in str(info.value)
    assert other.read_bytes() == b"not the demo weights" * 100 and not cache.exists()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is not a file"):
        store.verified_for_run(None, tmp_path / "nowhere.pth")
    with pytest.raises(CheckpointError, match="is not a file"):
        store.verified_for_run(None, tmp_path)  # a folder
