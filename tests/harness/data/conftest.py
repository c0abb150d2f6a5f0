"""Fixtures for the dataset tests: the mini archives, a local HTTP server serving them, a registry pointing at it,
and an isolated environment (no proxies, no offline switch, Hub cache under tmp_path)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.data.minidata import MiniData
from tests.helpers.http_server import LocalHTTPServer

_CLEARED = ("HRNET_ZOO_OFFLINE", "HF_HUB_OFFLINE", "HRNET_ZOO_DATA_MIRROR", "HF_ENDPOINT", "HTTP_PROXY", "http_proxy")


@dataclass
class DataEnv:
    mini: MiniData
    server: LocalHTTPServer
    root: Path  # the data root
    registry: Path
    repo_root: Path
    tmp: Path

    def rewrite_registry(self, edit) -> None:
        self.mini.registry(self.repo_root, self.server, self.registry.parent, edit=edit)


@pytest.fixture(scope="session")
def mini(samples_dir) -> MiniData:
    return MiniData(samples_dir).build()


@pytest.fixture
def data_env(mini, tmp_path, monkeypatch, repo_root) -> Iterator[DataEnv]:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with LocalHTTPServer(max_requests=200) as server:
        mini.serve(server)
        registry = mini.registry(repo_root, server, tmp_path / "registry")
        monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(registry))
        yield DataEnv(mini, server, tmp_path / "data", registry, repo_root, tmp_path)
