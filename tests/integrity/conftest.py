"""Fixtures shared by the integrity tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.demo import generate


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    """The demo's val split at 10 images, made once per module (tests copy it before changing anything)."""
    root = tmp_path_factory.mktemp("data")
    generate.generate(root / "demo", splits={"train": 0, "val": 10})
    return root
