"""`nox -s lint`'s import contracts (pyproject's [tool.importlinter], run by `lint-imports`) catch what they promise.

Each case copies the three packages and pyproject.toml into a temporary folder, plants one violation there, and runs
the installed `lint-imports` on the copy: the untouched copy passes; `import harness` in zoo breaks the layers
contract; a two-module cycle inside harness breaks the cycle contract; torch imported inside a zoo function breaks the
torch-free contract. Each failure must name its contract and the planted modules, and only that contract may break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter itself reads pyproject.toml with tomli there
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "harness", "benchmarks")


def _lint_imports() -> str:
    """The lint-imports of this interpreter's environment (else PATH's); skip, or fail under CI, when absent."""
    if sys.version_info < (3, 11):  # import-linter 2.17 needs 3.11 (pyproject's lint extra); `nox -s lint` runs it
        pytest.skip("import-linter (lint-imports) needs Python 3.11 or newer")
    exe = Path(sys.executable).parent / ("lint-imports.exe" if os.name == "nt" else "lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        reason = "lint-imports is not installed: pip install -e '.[lint]' (import-linter)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"{reason}; CI must run the import contract test")
        pytest.skip(reason)
    return found


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def _contract(kind: str) -> str:
    """The name of the pyproject contract of this import-linter type."""
    (name,) = [c["name"] for c in _contracts() if c["type"] == kind]
    return name


def _only_broken(res: subprocess.CompletedProcess, kind: str) -> None:
    """lint-imports failed, on the contract of this type and no other."""
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{_contract(kind)} BROKEN" in res.stdout, res.stdout
    assert f"Contracts: {len(_contracts()) - 1} kept, 1 broken." in res.stdout, res.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _run(root: Path) -> subprocess.CompletedProcess:
    # The copy's packages, not the editable install's; wide lines: rich wraps the report at the terminal width.
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "250"}
    return subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_untouched_copy_keeps_every_contract(copy: Path) -> None:
    res = _run(copy)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(f"{c['name']} KEPT" in res.stdout for c in _contracts()), res.stdout


def test_zoo_importing_harness_breaks_the_layers(copy: Path) -> None:
    _append(copy / "zoo" / "__init__.py", "\nimport harness.errors  # planted layer violation\n")
    res = _run(copy)
    _only_broken(res, "layers")
    assert "zoo -> harness.errors" in res.stdout


def test_cycle_inside_harness_breaks_the_cycle_contract(copy: Path) -> None:
    (copy / "harness" / "planted_a.py").write_text("from harness import planted_b\n", encoding="utf-8")
    (copy / "harness" / "planted_b.py").write_text("def f():\n    from harness import planted_a\n", encoding="utf-8")
    res = _run(copy)
    _only_broken(res, "acyclic_siblings")
    assert "No cycles are allowed in harness." in res.stdout and ".planted_" in res.stdout


def test_torch_imported_inside_a_zoo_function_breaks_the_torch_free_contract(copy: Path) -> None:
    _append(copy / "zoo" / "registry" / "schema.py", "\n\ndef _planted():\n    import torch\n\n    return torch\n")
    res = _run(copy)
    _only_broken(res, "forbidden")
    assert "zoo.registry.schema -> torch" in res.stdout
