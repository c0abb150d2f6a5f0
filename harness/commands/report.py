"""`python -m harness report [--check]`: re-render reports/ (and the README tables) from zoo.yaml and the
result history, without re-running anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render reports/ from the result history (--check: fail when stale)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when reports/ or README are stale")
    p.add_argument(
        "--out", type=Path, default=None, help="reports folder (default: $HRNET_ZOO_REPORTS, else reports/ of the "
        "checkout or of the user folder $HRNET_ZOO_HOME)"
    )  # fmt: skip
    p.add_argument("--history", type=Path, default=None, help="history folder (default: results/history/ there too)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import report
    from zoo import load_registry
    from zoo.formats import readme
    from zoo.results import history

    if args.history is not None and not args.history.is_dir():
        # An empty history renders reports without a reproduced number: a mistyped path must not look like that.
        print(f"error: --history {args.history} is not a folder (a results/history folder of run records)",
              file=sys.stderr)  # fmt: skip
        return 2
    registry = load_registry()
    records = history.load(args.history)
    out = args.out or report.default_reports_dir()
    pages = report.render(registry, records, out, plots=not args.check)
    target, why_not = _readme(args.history)
    if why_not:
        print(f"README tables not {'checked' if args.check else 'written'}: {why_not}", file=sys.stderr)
    if args.check:
        problems = report.stale(pages, out)
        if target is not None:
            problems += readme.readme_problems(registry, records=records, path=target)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run `nox -s report` to regenerate", file=sys.stderr)
            return 1
        # Silence would not say what was compared: one line naming it (issue 21.7).
        tables = f" and the tables of {target}" if target is not None else ""
        print(
            f"fresh: the {len(pages)} file(s) of {out}{tables} match zoo.yaml and "
            f"the {len(records)} record(s) of {args.history or history.default_history_dir()}"
        )
        return 0
    for path in report.write(pages, out):
        print(f"wrote {path}")
    if target is not None:
        readme.write_readme(registry, records=records, path=target)
    return 0


def _readme(given_history: Path | None) -> tuple[Path | None, str | None]:
    """The README whose tables show this history (zoo/settings.py readme_file), and why there is none where a
    checkout has one to say (an installed package has no README of its own: nothing to say)."""
    from zoo import settings

    why_not = settings.readme_skipped(given_history) if settings.in_checkout() else None
    return settings.readme_file(given_history), why_not
