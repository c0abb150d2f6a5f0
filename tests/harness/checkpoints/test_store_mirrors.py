"""Hub mirrors: huggingface_hub's real hf_hub_download pointed (HF_ENDPOINT) at the local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checkpoints import store
from harness.errors import DownloadError, OfflineError
from zoo.registry.schema import HubMirror

pytest.importorskip("huggingface_hub")

REPO = "hrnet-zoo/mirror"


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


@pytest.fixture
def hub(server, monkeypatch, cache):
    """The local server as the Hub endpoint (store reads HF_ENDPOINT at call time)."""
    monkeypatch.setenv("HF_ENDPOINT", server.base_url)
    return server


def _mirrored(serve, hub, *, hub_bytes: bytes | None = None, revision: str | None = None):
    s0 = serve()
    mirror = HubMirror(repo_id=REPO, filename=s0.checkpoint.filename, revision=revision)
    s = serve(s0.data, mirrors=(mirror,))
    hub_path = hub.add_hub_file(REPO, mirror.filename, s.data if hub_bytes is None else hub_bytes,
                                revision=revision or "main")  # fmt: skip
    return s, hub_path


def test_primary_fails_then_mirror_is_verified_and_cached(serve, hub, cache: Path) -> None:
    s, hub_path = _mirrored(serve, hub)
    hub.fail(s.path, 404)
    path = store.fetch(s.checkpoint, progress=False)
    assert path == store.expected_path(s.checkpoint)
    assert path.read_bytes() == s.data
    record = json.loads((cache / f"{path.name}.sha256").read_text())
    assert record["source"] == f"hf://{REPO}/{path.name}" and record["sha256"] == s.sha256
    assert [r.method for r in hub.requests_for(hub_path, method=None)] == ["HEAD", "GET"]
    # Once in our cache, neither source is asked again.
    n = len(hub.requests)
    assert store.fetch(s.checkpoint, progress=False) == path and len(hub.requests) == n


def test_prefer_mirror_asks_the_hub_first(serve, hub, cache: Path) -> None:
    s, hub_path = _mirrored(serve, hub, revision="v1")
    store.fetch(s.checkpoint, progress=False, prefer_mirror=True)
    assert hub.requests_for(s.path) == []
    assert hub.requests[0].path == hub_path


def test_mirror_with_other_bytes_is_never_used(serve, hub, cache: Path) -> None:
    s, _ = _mirrored(serve, hub, hub_bytes=b"impostor" * 1000)
    hub.fail(s.path, 500)
    with pytest.raises(DownloadError) as info:
        store.fetch(s.checkpoint, progress=False)
    msg = str(info.value)
    assert not isinstance(info.value, OfflineError)
    assert "from any of its 2 sources" in msg
    assert f"HTTP 500 Internal Server Error from {s.checkpoint.url}" in msg
    assert f"the Hub file hf://{REPO}/{s.checkpoint.filename}" in msg and "does not verify" in msg
    assert str(store.expected_path(s.checkpoint)) in msg
    assert names(cache) == {f"{s.checkpoint.filename}.lock"}


def test_missing_mirror_file_is_reported(serve, hub, cache: Path) -> None:
    s, hub_path = _mirrored(serve, hub)
    hub.fail(s.path, 404)
    hub.fail(hub_path, 404)
    with pytest.raises(DownloadError, match="HTTP 404 from the Hub"):
        store.fetch(s.checkpoint, progress=False)
    assert names(cache) == {f"{s.checkpoint.filename}.lock"}


def test_offline_uses_the_hub_cache_only(serve, hub, cache: Path, monkeypatch) -> None:
    s, _ = _mirrored(serve, hub)
    hub.fail(s.path, 404)
    first = store.fetch(s.checkpoint, progress=False)  # fills the Hub cache and ours
    first.unlink()  # lose our copy; the Hub cache still has it
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = len(hub.requests)
    assert store.fetch(s.checkpoint, progress=False).read_bytes() == s.data
    assert len(hub.requests) == n


def test_offline_without_any_copy_lists_both_sources(serve, hub, cache: Path) -> None:
    s, _ = _mirrored(serve, hub)
    with pytest.raises(OfflineError) as info:
        store.fetch(s.checkpoint, offline=True, progress=False)
    msg = str(info.value)
    assert s.checkpoint.url in msg and f"hf://{REPO}/" in msg
    assert str(store.expected_path(s.checkpoint)) in msg
    assert hub.requests == []
