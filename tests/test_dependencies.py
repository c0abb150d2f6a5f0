"""The base dependencies (zoo/dependencies.py): the table matches pyproject.toml, and `python -m zoo` without one of
them is one line naming the package and its install command, never a traceback (issue 22, case 6; the harness's
command line and doctor: tests/harness/test_doctor.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.dependencies import BASE, missing_message

REPO = Path(__file__).resolve().parents[1]


def test_the_table_is_the_projects_base_dependencies():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9._-]+", spec)[0].lower() for spec in declared}
    assert set(BASE.values()) == names


def test_another_import_error_is_not_disguised():
    assert missing_message(ModuleNotFoundError("No module named 'torch'", name="torch")) is None
    assert "pip install" in missing_message(ModuleNotFoundError("No module named 'jinja2'", name="jinja2"))


@pytest.mark.parametrize(("module", "package"), [("yaml", "pyyaml"), ("bibtexparser", "bibtexparser")])
@pytest.mark.parametrize("argv", [("list",), ("show", "hrnet_w32_aic_256x192"), ("check",)])
def test_zoo_without_a_base_dependency_is_one_line(tmp_path, module, package, argv):
    message = f"No module named {module!r}"  # what Python says of an absent package
    (tmp_path / f"{module}.py").write_text(f"raise ModuleNotFoundError({message!r}, name={module!r})\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    res = subprocess.run([sys.executable, "-m", "zoo", *argv], cwd=REPO, env=env, capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == "", res.stdout
    assert res.stderr.startswith(f"error: the {package} package (module {module!r}) cannot be imported"), res.stderr
    assert "pip install '" in res.stderr and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
