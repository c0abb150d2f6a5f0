"""Fixtures for the checkpoint store: an isolated cache, a local HTTP server, and checkpoints named by their hash."""

from __future__ import annotations

import hashlib
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Needs the repo root on sys.path, as `python -m pytest` (the documented way, DESIGN.md) provides.
from tests.helpers.http_server import LocalHTTPServer
from zoo.registry.schema import Checkpoint, HubMirror

_ENV_CLEARED = (
    "HRNET_ZOO_OFFLINE",
    "HF_HUB_OFFLINE",
    "HRNET_ZOO_PREFER_MIRROR",
    "HF_ENDPOINT",
    "HF_HUB_CACHE",
    "XDG_CACHE_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty checkpoint cache ($HRNET_ZOO_CACHE), Hub cache ($HF_HOME) and torch.hub folder ($TORCH_HOME) under
    tmp_path, network env cleared: a file in the developer's own torch.hub cache is never picked up."""
    for name in _ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    path = tmp_path / "cache"
    monkeypatch.setenv("HRNET_ZOO_CACHE", str(path))
    return path


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(max_requests=40, lifetime_s=60) as srv:
        yield srv


def make_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def name_for(data: bytes, stem: str = "tiny") -> str:
    """`<stem>-<first 8 hex of sha256>_20240101.pth`, the zoo's naming (PROTOCOLS.md §6)."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}_20240101.pth"


@dataclass(frozen=True)
class Served:
    checkpoint: Checkpoint
    data: bytes
    path: str  # URL path on the server

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@pytest.fixture
def serve(server: LocalHTTPServer) -> Callable[..., Served]:
    """serve(data=None, *, name=None, body=None, mirrors=(), full=False): serve `body` (default: `data`) at a URL
    whose file name carries the prefix of `data`'s hash; `full` also records sha256 and size."""

    def _serve(
        data: bytes | None = None,
        *,
        name: str | None = None,
        body: bytes | None = None,
        mirrors: tuple[HubMirror, ...] = (),
        full: bool = False,
    ) -> Served:
        data = make_bytes(300_000) if data is None else data
        name = name or name_for(data)
        path = f"/mmpose/{name}"
        server.add(path, data if body is None else body)
        digest = hashlib.sha256(data).hexdigest()
        ckpt = Checkpoint(
            url=server.url(path),
            sha256_prefix=digest[:8],
            sha256=digest if full else None,
            size=len(data) if full else None,
            mirrors=mirrors,
        )
        return Served(ckpt, data, path)

    return _serve


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listing(directory: Path) -> set[str]:
    """File names in `directory` (empty set if it does not exist)."""
    return {p.name for p in directory.iterdir()} if directory.exists() else set()
