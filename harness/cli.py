"""`python -m harness VERB ...`: the command-line entry. Verbs live in harness/commands/<verb>.py."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from zoo.errors import ZooError
from zoo.version import add_version_argument

#: Verb modules, in the order `--help` lists them. A module that is missing is skipped (work in progress).
VERBS = ("fetch", "data", "inspect", "convert", "evaluate", "score", "reproduce", "jobs", "report", "doctor")


#: The program name in usage lines; `hrnet-zoo` passes its own.
PROG = "python -m harness"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate HRNet-family checkpoints of the MMPose model zoo against their documented numbers.",
    )
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add_verbs(sub)
    return parser


def verb_modules(*, skip: frozenset[str] = frozenset()) -> list:
    """The module of each verb but those in `skip`; each registers a verb of its own name. ModuleNotFoundError
    when a dependency of the harness is not installed."""
    modules = []
    for verb in (v for v in VERBS if v not in skip):
        try:
            modules.append(importlib.import_module(f"harness.commands.{verb}"))
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{verb}":
                continue
            raise
    return modules


def add_verbs(sub, modules: list | None = None) -> None:
    """Every verb of `python -m harness` (or of `modules`), on `sub` (hrnet-zoo adds them to its own parser too)."""
    for module in verb_modules() if modules is None else modules:
        module.register(sub)


def main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ZooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours. Point stdout at devnull so that the interpreter's
        # final flush does not raise again (the recipe of Python's signal module documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
