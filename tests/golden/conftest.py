"""Golden tests: the accept switch (`--accept-golden`, registered in tests/conftest.py, or HRNET_ZOO_ACCEPT_GOLDEN=1)
and a shared registry."""

from __future__ import annotations

import pytest

from tests.helpers import golden


@pytest.fixture(scope="session")
def accept_golden(request: pytest.FixtureRequest) -> bool:
    return golden.accept_requested(bool(request.config.getoption("--accept-golden", default=False)))


@pytest.fixture(scope="session")
def registry():
    from zoo import load_registry

    return load_registry()


@pytest.fixture(scope="module", autouse=True)
def _free_models():
    """Random models (up to ~250 MB each) and their memoised outputs live for one test module."""
    yield
    from tests.golden.cases import clear_models

    clear_models()
