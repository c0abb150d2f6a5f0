"""Every example pattern a help text shows matches something in the registry (issue 21.7: `fetch --help` showed
'aic-*', which matches no id). Both CLIs, every verb: descriptions, epilogs and argument help."""

from __future__ import annotations

import argparse
import fnmatch
import re

from harness.cli import build_parser as harness_parser
from zoo import load_registry
from zoo.cli import build_parser as zoo_parser

#: A quoted shell-style wildcard: 'hrnet_w32_*', '*multi-scale'.
PATTERN = re.compile(r"'([^'\s]*[*?][^'\s]*)'")


def _texts(parser: argparse.ArgumentParser) -> list[str]:
    """The help texts of `parser` and of every sub-parser under it."""
    out = [parser.description or "", parser.epilog or ""]
    for action in parser._actions:
        out.append(action.help or "")
        if isinstance(action, argparse._SubParsersAction):
            out += [choice.help or "" for choice in action._choices_actions]
            for sub in action.choices.values():
                out += _texts(sub)
    return out


def test_every_example_pattern_in_the_help_matches_an_id() -> None:
    registry = load_registry()
    ids = [e.id for e in registry.entries.values()] + [r.row_id for e in registry.entries.values() for r in e.results]
    found = {m for parser in (harness_parser(), zoo_parser()) for text in _texts(parser) for m in PATTERN.findall(text)}
    assert {"*_aic_*", "*multi-scale", "hrnet_w32_*"} <= found, found  # the walk reaches the verbs' help
    unmatched = sorted(p for p in found if not any(fnmatch.fnmatchcase(i.lower(), p.lower()) for i in ids))
    assert unmatched == [], f"example patterns in help texts that match no entry or row id: {unmatched}"
