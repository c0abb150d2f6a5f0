"""Shared fixtures. Tests that need ../shared (sample data, seeds, PROTOCOLS.md) skip with a reason where it is
absent, e.g. for users outside the project's workplace; CI always has it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zoo import settings

REPO = Path(__file__).resolve().parents[1]
SHARED = settings.shared_dir()


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


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: set HRNET_ZOO_SHARED to the shared/ folder that holds seeds/ and data/")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return _need(SHARED / "seeds")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """../shared/data/samples: tiny real subsets (aic, coco, horse10, macaque, atrw). Read, never copy."""
    return _need(SHARED / "data" / "samples")


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
    monkeypatch.delenv("HRNET_ZOO_OFFLINE", raising=False)
    return tmp_path
