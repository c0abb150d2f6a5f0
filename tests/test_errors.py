"""One error tree in two files (issue #14): every public exception of `zoo` and `harness` is defined in zoo/errors.py
or harness/errors.py, and the tree drawn in each module's docstring is the real class hierarchy.

The walk imports every module of both packages (so a class added anywhere is seen), and each check is first shown to
catch a planted violation, so neither can pass by finding nothing.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
import types

import pytest

import harness
import harness.errors
import zoo
import zoo.errors

ERROR_MODULES = ("zoo.errors", "harness.errors")
#: A line of a docstring tree: 4 spaces, then the branches (4 characters a level), the class, its extra bases.
_TREE_LINE = re.compile(
    r"^    (?P<prefix>(?:│   |    |├── |└── )*)(?P<name>[A-Z]\w*)(?: \[(?P<extra>[\w, ]+)\])?(?:\s|$)"
)


def _all_modules() -> list[types.ModuleType]:
    modules = []
    for package in (zoo, harness):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.rsplit(".", 1)[-1] == "__main__":  # running it is its only purpose
                continue
            modules.append(importlib.import_module(info.name))
    return [zoo, harness, *modules]


def stray_public_errors(module: types.ModuleType) -> list[str]:
    """Public exception classes that `module` defines itself (not imports) although it is not an errors module."""
    if module.__name__ in ERROR_MODULES:
        return []
    return [
        f"{module.__name__}.{name}"
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
        and not name.startswith("_")
    ]


def tree_of(module: types.ModuleType) -> dict[str, tuple[str, ...]]:
    """{class name: expected base names} drawn in the module docstring's tree(s): a child's first base is its parent
    in the drawing, then the bracketed ones; a root's are only the bracketed ones (a root without any: Exception)."""
    tree: dict[str, tuple[str, ...]] = {}
    path: list[str] = []  # the names on the branch down to the current line
    for line in (module.__doc__ or "").splitlines():
        m = _TREE_LINE.match(line)
        if not m:
            continue
        depth = len(m["prefix"]) // 4
        extra = tuple(b.strip() for b in m["extra"].split(",")) if m["extra"] else ()
        del path[depth:]
        if depth:
            tree[m["name"]] = (path[-1], *extra)
        elif extra or not hasattr(builtins, m["name"]):
            tree[m["name"]] = extra or ("Exception",)
        path.append(m["name"])
    return tree


def tree_problems(module: types.ModuleType, namespace: dict[str, type]) -> list[str]:
    """What the docstring tree of `module` gets wrong: classes it defines but does not draw, drawn classes that exist
    nowhere, and drawn parents that are not the real bases. `namespace` resolves names of other modules' classes."""
    tree = tree_of(module)
    defined = {
        n
        for n, o in vars(module).items()
        if inspect.isclass(o) and issubclass(o, BaseException) and o.__module__ == module.__name__
    }
    out = [f"{module.__name__}.{n} is not drawn in the docstring tree" for n in sorted(defined - tree.keys())]
    for name, bases in tree.items():
        cls = namespace.get(name)
        if cls is None:
            out.append(f"{name} is drawn in {module.__name__}'s tree but defined in no errors module")
        elif tuple(b.__name__ for b in cls.__bases__) != bases:
            real = ", ".join(b.__name__ for b in cls.__bases__)
            out.append(f"{name}: the tree draws bases ({', '.join(bases)}), the class has ({real})")
    return out


def _namespace() -> dict[str, type]:
    names: dict[str, type] = {}
    for module in (zoo.errors, harness.errors):
        names.update({n: o for n, o in vars(module).items() if inspect.isclass(o) and issubclass(o, BaseException)})
    return names


# -- the checks catch what they are for -------------------------------------------------------------------------


def test_a_public_exception_outside_the_errors_modules_is_caught():
    planted = types.ModuleType("harness.planted")
    source = "from zoo.errors import ZooError\nclass PlantedError(ValueError): pass\nclass _Private(Exception): pass"
    exec(source, vars(planted))
    assert stray_public_errors(planted) == ["harness.planted.PlantedError"]  # imported and private ones are not


def test_a_tree_that_misses_a_class_or_draws_a_wrong_parent_is_caught():
    planted = types.ModuleType("zoo.planted")
    planted.__doc__ = "Tree:\n\n    ZooError\n    ├── RegistryError [ValueError]\n    └── SearchError\n"
    exec("class PlantedError(Exception): pass", vars(planted))
    problems = tree_problems(planted, _namespace())
    assert "zoo.planted.PlantedError is not drawn in the docstring tree" in problems
    assert "SearchError: the tree draws bases (ZooError), the class has (ZooError, ValueError)" in problems
    assert not any("RegistryError" in p for p in problems)


# -- the real packages ------------------------------------------------------------------------------------------


def test_every_public_exception_is_defined_in_an_errors_module():
    modules = _all_modules()
    names = {m.__name__ for m in modules}
    # The walk reaches the corners where errors used to live (it cannot pass by walking nothing).
    assert {"zoo.formats.pages", "harness.metrics._predictions", "harness.models.fold", "harness.oracle"} <= names
    assert [s for m in modules for s in stray_public_errors(m)] == []


@pytest.mark.parametrize("module", [zoo.errors, harness.errors], ids=ERROR_MODULES)
def test_the_docstring_tree_is_the_class_hierarchy(module):
    assert len(tree_of(module)) >= 8
    assert tree_problems(module, _namespace()) == []


def test_test_verdicts_are_not_harness_errors():
    """A CLI turns HarnessError into `error: ...`; a golden mismatch is a failed test and must stay one (and the
    package does not ship it: it is the test helpers')."""
    from tests.helpers import golden

    for cls in (golden.GoldenMismatchError, golden.GoldenMissingError):
        assert issubclass(cls, AssertionError) and not issubclass(cls, zoo.errors.ZooError)
