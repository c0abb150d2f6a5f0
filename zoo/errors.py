"""Every public error of the registry package, in one file (as huggingface_hub's `errors.py` and httpx's
`_exceptions.py` keep theirs). Every message says what is wrong, where, and what to do next.

The tree (a builtin in brackets is a second base, so `except ValueError` keeps working where it did; the harness's
own tree continues under HarnessError in harness/errors.py):

    ZooError
    ├── RegistryError [ValueError]
    ├── UnknownEntryError [KeyError]
    ├── RecordError [ValueError]
    │   └── HistoryError
    ├── PageError [ValueError]
    ├── GeneratedError [ValueError]
    ├── SearchError [ValueError]
    ├── ExportError [ValueError]
    ├── SettingError [ValueError]
    └── HarnessError                      harness/errors.py

The modules that raise them import them from here, and so does every caller (no module re-exports them).
tests/test_errors.py checks that no other module defines a public exception and that
this tree is the real one.
"""

from __future__ import annotations


class ZooError(Exception):
    """Root of every error this project raises (the harness subclasses it too)."""


class RegistryError(ZooError, ValueError):
    """zoo.yaml (or a file it names) is malformed. Carries every problem found, not only the first."""

    def __init__(self, problems: list[str], *, path: str = "zoo.yaml") -> None:
        self.problems = list(problems)
        self.path = path
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path}: {len(self.problems)} problem(s):\n{lines}")


class UnknownEntryError(ZooError, KeyError):
    """An id that is not in the registry; the message lists close matches."""

    def __init__(
        self,
        kind: str,
        name: str,
        suggestions: list[str],
        *,
        next_step: str = "Run `python -m zoo list` to see every id.",
    ) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        self.message = f"unknown {kind} {name!r}.{hint} {next_step}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class RecordError(ZooError, ValueError):
    """A run record (result.json or a history file) is malformed; the message names the file and field."""


class HistoryError(RecordError):
    """A history file is malformed; the message names the file and field (zoo/results/history.py)."""


class PageError(ZooError, ValueError):
    """A model-zoo page cannot be read or does not have the expected shape; the message names the file and line
    (zoo/formats/pages.py)."""


class GeneratedError(ZooError, ValueError):
    """A folder of generated files cannot be written (or holds files we did not write) (zoo/formats/generated.py)."""


class SearchError(ZooError, ValueError):
    """A search condition or column that cannot be used; the message lists what can (zoo/formats/search.py)."""


class ExportError(ZooError, ValueError):
    """The registry holds something an export format has no place for; the message says what to add where
    (zoo/formats/ecosystem.py)."""


class SettingError(ZooError, ValueError):
    """An HRNET_ZOO_* environment variable holds a value its type does not allow, or a path that has no default
    in an installed package is needed and not given; the message names the variable (and option) and what it takes
    (zoo/settings.py)."""
