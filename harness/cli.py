"""`python -m harness VERB ...`: the command-line entry. Verbs live in harness/commands/<verb>.py."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from zoo import settings
from zoo.errors import ZooError

#: Verb modules, in the order `--help` lists them. A module that is missing is skipped (work in progress).
VERBS = ("fetch", "data", "inspect", "convert", "evaluate", "score", "reproduce", "report", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="Evaluate HRNet-family checkpoints of the MMPose model zoo against their documented numbers.",
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        try:
            module = importlib.import_module(f"harness.commands.{verb}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{verb}":
                continue
            raise
        module.register(sub)
    return parser


def _warn_unknown_settings(args: argparse.Namespace) -> None:
    """An unknown HRNET_ZOO_* name (a typo) on stderr, once, before the verb reads any variable: by the first
    process only under torchrun, and not for `doctor`, which lists it among its own lines."""
    from harness.distributed import launch_env

    if getattr(args, "lists_settings", False):
        return
    try:
        launched = launch_env()
    except ZooError:  # malformed torchrun variables: the verb names them
        launched = None
    if launched is None or launched[0] == 0:
        settings.warn_unknown()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _warn_unknown_settings(args)
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
