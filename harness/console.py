"""`hrnet-zoo`: the console script, one command for every verb of both CLIs. `python -m zoo` and `python -m harness`
stay as they are; this only routes to them.

    hrnet-zoo list|show|check|readme|settings|import|sync|export|search     the registry's verbs (zoo/cli.py)
    hrnet-zoo fetch|data|inspect|convert|evaluate|score|reproduce|report|doctor   the harness's (harness/cli.py)
    hrnet-zoo zoo VERB ...  /  hrnet-zoo harness VERB ...                     either CLI by name, in full

The two CLIs share no verb name today. Should they ever, the bare name is the registry's (the torch-free side, which
`hrnet-zoo list` keeps light) and `hrnet-zoo harness VERB` reaches the harness's; the combined help lists it once.

A registry verb is routed before anything of the harness is imported, so `hrnet-zoo list` imports no torch and works
in an install without the harness extra; a harness verb in such an install stops with the command that adds it.
Shell completion comes from shtab, generated from the very parser below: `hrnet-zoo --print-completion bash`.
"""

from __future__ import annotations

import argparse
import sys

from harness import cli as harness_cli
from zoo import cli as zoo_cli
from zoo.version import add_version_argument

PROG = "hrnet-zoo"
HARNESS_EXTRA = "pip install 'hrnet-zoo[harness]' (pipx: pipx install --force 'hrnet-zoo[harness]')"


def zoo_verbs() -> frozenset[str]:
    scratch = argparse.ArgumentParser(add_help=False).add_subparsers()
    zoo_cli.add_verbs(scratch)
    return frozenset(scratch.choices)


def build_parser() -> argparse.ArgumentParser:
    """Every verb of both CLIs, bare and under `zoo` / `harness`: for --help, usage errors and shell completion."""
    import shtab

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Reproduce the documented numbers of MMPose's HRNet family: the registry (zoo.yaml) and the "
        "harness in one command.",
        epilog=f"`{PROG} zoo VERB` and `{PROG} harness VERB` reach either CLI by name (as `python -m zoo|harness`).",
    )
    add_version_argument(parser)
    shtab.add_argument_to(parser, ["--print-completion"], help="print a shell completion script (bash, zsh, tcsh)")
    zoo_cli.add_registry_argument(parser)
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    zoo_cli.add_verbs(sub)
    z = sub.add_parser("zoo", help="the registry's CLI by name (python -m zoo)")
    zoo_cli.add_registry_argument(z)
    zoo_cli.add_verbs(z.add_subparsers(dest="zoo_verb", required=True, metavar="VERB"))
    try:
        harness_cli.verb_modules()
    except ModuleNotFoundError as exc:
        _raise_if_ours(exc)
        parser.epilog = f"The harness's verbs need its dependencies ({exc.name} is missing): {HARNESS_EXTRA}"
        return parser
    # A name both CLIs had would be the registry's (module docstring): the harness's copy is left out here.
    harness_cli.add_verbs(sub, harness_cli.verb_modules(skip=zoo_verbs()))
    h = sub.add_parser("harness", help="the harness's CLI by name (python -m harness)")
    harness_cli.add_verbs(h.add_subparsers(dest="harness_verb", required=True, metavar="VERB"))
    return parser


def _registry_option(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the leading `--registry PATH` options, the rest): the one option placed before a verb."""
    head: list[str] = []
    while argv and (argv[0] == "--registry" or argv[0].startswith("--registry=")):
        take = 1 if "=" in argv[0] else 2
        head, argv = head + argv[:take], argv[take:]
    return head, argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    head, rest = _registry_option(argv)
    verb = rest[0] if rest else None
    if verb in zoo_verbs():
        return zoo_cli.main(head + rest, prog=PROG)
    if verb == "zoo":
        return zoo_cli.main(head + rest[1:], prog=f"{PROG} zoo")
    if verb == "harness" or verb in harness_cli.VERBS:
        if head:
            print(
                f"error: --registry applies to the registry's verbs; for `{PROG} {verb}` set HRNET_ZOO_REGISTRY",
                file=sys.stderr,
            )
            return 2
        by_name = verb == "harness"
        return _harness(rest[1:] if by_name else rest, f"{PROG} harness" if by_name else PROG)
    # --help, --version, --print-completion, no verb or an unknown one: the full parser answers (and exits).
    build_parser().parse_args(argv)
    return 2  # not reached: with a verb, one of the routes above took it


def _harness(argv: list[str], prog: str) -> int:
    try:
        return harness_cli.main(argv, prog=prog)
    except ModuleNotFoundError as exc:
        _raise_if_ours(exc)
        print(
            f"error: `{' '.join([prog, *argv[:1]])}` needs the harness's dependencies ({exc.name} is not "
            f"installed). Add them: {HARNESS_EXTRA}",
            file=sys.stderr,
        )
        return 2


def _raise_if_ours(exc: ModuleNotFoundError) -> None:
    """A module of this project missing is a broken install, not a missing extra: it must show as it is."""
    if (exc.name or "zoo").split(".")[0] in ("zoo", "harness"):
        raise exc
