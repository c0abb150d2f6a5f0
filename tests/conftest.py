"""Shared fixtures. The data the tests read (sample images and annotations, model-zoo pages) is the repository's own
tests/data/, with its provenance notes: a clone with nothing beside it runs every test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# fp32 CPU convolutions sum in an order that depends on the instruction set oneDNN picks: an AVX-512 machine blocks
# channels by 16, an AVX2 one by 8, and random-weight scores then differ by ~1e-4 relative, beyond the goldens'
# tolerance (tests/golden/README.md). Capping oneDNN at AVX2 (which every x86-64 CI machine has) makes the goldens one
# set of numbers everywhere. Set before anything imports torch (oneDNN reads it once); subprocesses inherit it. A
# value the caller set wins, so `ONEDNN_MAX_CPU_ISA=ALL pytest ...` still tests the native kernels.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, in the root conftest, so that `pytest --accept-golden` works from the repository root whatever paths are
    # named (a sub-folder's conftest registers options only when that folder is on the command line).
    parser.addoption(
        "--accept-golden",
        action="store_true",
        default=False,
        help="rewrite golden files that are missing or differ beyond tolerance (review and commit them); "
        "same as HRNET_ZOO_ACCEPT_GOLDEN=1",
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def test_data_dir() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """tests/data/pages/seeds: the five model-zoo pages the first 22 registry rows come from."""
    return TEST_DATA / "pages" / "seeds"


@pytest.fixture(scope="session")
def family_pages_dir() -> Path:
    """tests/data/pages/family: MMPose 0.29's further HRNet-family pages, under their configs/ paths."""
    return TEST_DATA / "pages" / "family"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """tests/data/samples: tiny real subsets (aic, coco, horse10, macaque, atrw, mpii, crowdpose). Tests read them
    and never write into them (a variant goes to tmp_path)."""
    return TEST_DATA / "samples"


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Tests may pin torch's thread count (numerics depend on it); never let that leak into the next test."""
    import sys

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture
def workspace(tmp_path, monkeypatch, repo_root):
    """Every folder the harness writes to (cache, results, runs, reports, README), redirected into tmp_path: an
    end-to-end test never touches the repository."""
    for var, name in [
        ("HRNET_ZOO_CACHE", "cache"),
        ("HRNET_ZOO_RESULTS", "results"),
        ("HRNET_ZOO_RUNS", "runs"),
        ("HRNET_ZOO_REPORTS", "reports"),
        ("HRNET_ZOO_EXPORTS", "exports"),
    ]:
        monkeypatch.setenv(var, str(tmp_path / name))
    readme = tmp_path / "README.md"
    shutil.copy(repo_root / "README.md", readme)
    monkeypatch.setenv("HRNET_ZOO_README", str(readme))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # fetch looks in torch.hub's folder too
    monkeypatch.delenv("HRNET_ZOO_OFFLINE", raising=False)
    return tmp_path
