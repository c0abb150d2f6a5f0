"""The base dependencies every verb needs, and the one line a missing one gets instead of a traceback.

`python -m zoo` and `python -m harness` start through `run_main`, which imports their command line and runs it: an
ImportError of a base dependency (PyYAML for zoo.yaml, Jinja2 for the README, bibtexparser for papers.bib), at start
or inside a verb, becomes `error: ...` naming the package and the command that installs it, exit 2. This module and
zoo/__init__.py import no third-party package, so that this works when one is missing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

#: import name -> the distribution that provides it: pyproject.toml's [project] dependencies
#: (tests/test_dependencies.py keeps the two the same).
BASE = {
    "yaml": "pyyaml",
    "jinja2": "jinja2",
    "bibtexparser": "bibtexparser",
    "platformdirs": "platformdirs",
    "shtab": "shtab",
}
PROJECT = "hrnet-zoo"


def _requirement(distribution: str) -> str:
    """The project's requirement on `distribution` as its installed metadata states it ("pyyaml>=6"), else its name."""
    from importlib import metadata  # here: ~30 ms that every start of a command line would pay

    try:
        required = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        required = []
    for spec in required:
        requirement, _, marker = spec.partition(";")
        name = re.match(r"[A-Za-z0-9._-]*", requirement.strip())[0]  # PEP 508: the name comes first
        if "extra" not in marker and re.sub(r"[-_.]+", "-", name).lower() == distribution:
            return requirement.strip()
    return distribution


def missing_message(exc: ImportError) -> str | None:
    """The line for a base dependency that cannot be imported; None for any other ImportError (a bug to show)."""
    module = (exc.name or "").split(".")[0]
    distribution = BASE.get(module)
    if distribution is None:
        return None
    return (
        f"the {distribution} package (module {module!r}) cannot be imported ({exc}); every verb needs it. Install it "
        f"with: pip install '{_requirement(distribution)}' (or the whole project: pip install -e .)"
    )


def run_main(main: Callable[[], int]) -> int:
    """Run a command line's `main` (which imports it), naming a missing base dependency in one line (exit 2)."""
    try:
        return main()
    except ImportError as exc:
        message = missing_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
