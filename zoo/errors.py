"""Errors of the registry. Every message says what is wrong, where, and what to do next."""

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

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        self.message = f"unknown {kind} {name!r}.{hint} Run `python -m zoo list` to see every id."
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class RecordError(ZooError, ValueError):
    """A run record (result.json or a history file) is malformed; the message names the file and field."""
