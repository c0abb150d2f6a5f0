"""Fixtures shared by the harness's end-to-end tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class GeneratedCheckpoint:
    path: Path
    data: bytes
    sha256_prefix: str


@pytest.fixture(scope="session")
def aic_td_checkpoint(tmp_path_factory) -> GeneratedCheckpoint:
    """Seeded random MMPose-format weights for `hrnet_w32_aic_256x192` (BN calibrated on small inputs)."""
    from harness.models.random_weights import make_random_checkpoint
    from zoo import load_registry

    arch = load_registry().entry("hrnet_w32_aic_256x192").architecture
    path = make_random_checkpoint(arch, tmp_path_factory.mktemp("ckpt") / "aic_td.pth", seed=3, input_size=(64, 64))
    data = path.read_bytes()
    return GeneratedCheckpoint(path, data, hashlib.sha256(data).hexdigest()[:8])
