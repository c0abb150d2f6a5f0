"""The ecosystem-format verbs of `python -m zoo`: import, sync --check, export, search (registered by zoo/cli.py).

Exit codes as the other verbs: 0 ok, 1 `sync --check` found differences or `export --check` found stale files,
2 usage error or bad input (a ZooError, printed as `error: ...`).
"""

from __future__ import annotations

import argparse
import json
import sys

from zoo.registry.load import load_registry

EXPORTS = ("model-index", "hf-cards")


def add_verbs(sub) -> None:
    p = sub.add_parser("import", help="the registry entries and rows that model-zoo pages imply (guesses marked)")
    p.add_argument("pages", nargs="+", metavar="PAGE.md", help="MMPose model-zoo markdown page(s)")
    p.add_argument("--json", action="store_true", help="print JSON, every guess as {value, guess}")
    p.set_defaults(func=_import)

    p = sub.add_parser("sync", help="compare model-zoo pages with zoo.yaml (the upstream drift check)")
    p.add_argument("pages", nargs="+", metavar="PAGE.md", help="MMPose model-zoo markdown page(s)")
    p.add_argument(
        "--check",
        action="store_true",
        required=True,
        help="fail naming each difference (the only mode: zoo.yaml is "
        "edited by hand, from `python -m zoo import` output)",
    )
    p.set_defaults(func=_sync)

    p = sub.add_parser("export", help="write model-index metafiles or Hub model cards into OUTDIR")
    p.add_argument("format", choices=EXPORTS, help="model-index: OpenMMLab/Papers-with-Code; hf-cards: Hub cards")
    p.add_argument("outdir", metavar="OUTDIR", help="folder to write (e.g. exports/model-index)")
    p.add_argument("--check", action="store_true", help="only check that OUTDIR is up to date")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder this command did not write")
    p.set_defaults(func=_export)

    p = sub.add_parser("search", help="documented rows matching conditions, like `mim search` (pandas)")
    p.add_argument("--dataset", help="only this dataset key, e.g. coco")
    p.add_argument(
        "--where", action="append", default=[], metavar="COND", help="e.g. 'AP>0.7' or 'NME<=0.12'; repeat to AND"
    )
    p.add_argument("--sort", metavar="COLUMN", help="best first for metrics (NME ascending), e.g. AP")
    p.add_argument("--reverse", action="store_true", help="reverse the sort order")
    p.add_argument("--json", action="store_true", help="print the matching rows as JSON records")
    p.set_defaults(func=_search)


def _registry(args: argparse.Namespace):
    return load_registry(args.registry)


def _pages(paths: list[str]):
    """The pages, each with at least one results row: a page without one is not a model-zoo page (or lost its table),
    and comparing or importing nothing would read as success ("0 row(s) agree")."""
    from zoo.errors import PageError
    from zoo.formats.pages import read_page

    pages = [read_page(p) for p in paths]
    for path, page in zip(paths, pages, strict=True):
        if not page.rows and page.skipped:
            raise PageError(f"{path}: no results table this registry reads: " + "; ".join(
                s.describe() for s in page.skipped))  # fmt: skip
        if not page.rows:
            raise PageError(
                f"{path}: no results table; expected a model-zoo page with a results table (columns Arch, Input Size, "
                "metrics such as AP, ckpt; one row per checkpoint)"
            )
        for skipped in page.skipped:
            print(f"note: {page.name}: {skipped.describe()}", file=sys.stderr)
    return pages


def _import(args: argparse.Namespace) -> int:
    from zoo.formats import importer

    registry = _registry(args)
    templates = importer.protocol_templates(registry, args.registry)
    pages = _pages(args.pages)
    if args.json:
        data = [importer.to_json(p, importer.imply(p, registry, templates), registry) for p in pages]
        print(json.dumps(data, indent=2))
        return 0
    print("\n".join(importer.render(p, importer.imply(p, registry, templates), registry) for p in pages), end="")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from zoo.formats import importer, sync

    registry = _registry(args)
    report = sync.check_pages(_pages(args.pages), registry, importer.protocol_templates(registry, args.registry))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.differences:
        print(f"{len(report.differences)} difference(s) between the page(s) and zoo.yaml:", file=sys.stderr)
        for d in report.differences:
            print(f"  - {d}", file=sys.stderr)
        print(
            "fix zoo.yaml (or papers.bib) where the page is right; `python -m zoo import PAGE` shows what the page "
            "implies",
            file=sys.stderr,
        )
        return 1
    print(f"ok: {len(args.pages)} page(s), {report.rows_checked} row(s) agree with zoo.yaml")
    return 0


def _export(args: argparse.Namespace) -> int:
    from zoo.formats import generated

    registry = _registry(args)
    if args.format == "model-index":
        from zoo.formats import model_index

        files = model_index.render(registry)
    else:
        from zoo.formats import hf_cards

        files = hf_cards.render(registry)
    command = f"python -m zoo export {args.format}"  # zoo.formats.generated adds the folder
    if args.check:
        problems = generated.stale(files, args.outdir, command=command)
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print(f"{args.outdir}: {len(files)} file(s) up to date")
        return 1 if problems else 0
    changed = generated.write(files, args.outdir, command=command, force=args.force)
    print(f"{args.outdir}: {len(files)} file(s), {len(changed)} changed")
    return 0


def _search(args: argparse.Namespace) -> int:
    from zoo.formats import search

    df = search.search(_registry(args), dataset=args.dataset, where=args.where, sort=args.sort, reverse=args.reverse)
    if args.json:
        print(df.to_json(orient="records", indent=2))
        return 0
    print(search.format_table(df))
    return 0
