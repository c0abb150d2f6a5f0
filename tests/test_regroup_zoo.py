"""tools/regroup_zoo.py: the import rewrite the lead re-runs after merging other branches maps every old zoo module
path to its new one, splits `from zoo import ...` by new home, leaves look-alikes alone, is idempotent, and finds no
old path left in this tree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("regroup_zoo", REPO / "tools" / "regroup_zoo.py")
regroup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regroup)

OLD = """from zoo import history, settings
from zoo.schema import Registry
import zoo.readme
from tests.zoo.pages import x  # another module
mock.patch("zoo.history.load")
# see zoo/standing.py, not tests/zoo/pages.py nor zoo.yaml
path = root / "zoo" / "schema.py"
"""
NEW = """from zoo.results import history
from zoo import settings
from zoo.registry.schema import Registry
import zoo.formats.readme
from tests.zoo.pages import x  # another module
mock.patch("zoo.results.history.load")
# see zoo/results/standing.py, not tests/zoo/pages.py nor zoo.yaml
path = root / "zoo" / "registry" / "schema.py"
"""


def test_old_paths_are_rewritten_and_look_alikes_kept():
    # import order is left to `ruff check --fix` (isort), as the tool's docstring says
    assert regroup.rewrite_text(OLD) == NEW


def test_the_rewrite_is_idempotent():
    assert regroup.rewrite_text(NEW) == NEW


def test_a_lengthened_comment_is_rewrapped():
    line = "# " + "word " * 21 + "zoo/history.py end of the comment"
    out = regroup.rewrite_text(line + "\nx = 1\n")
    assert all(len(ln) <= regroup.LINE_LENGTH for ln in out.splitlines()) and "zoo/results/history.py" in out
    assert out.splitlines()[1].startswith("# ") and out.endswith("x = 1\n")


def test_no_old_path_or_unplaced_module_is_left():
    assert regroup.leftovers() == []
