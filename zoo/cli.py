"""`python -m zoo list|show|check|readme|settings|import|sync|export|search`: browse, validate and translate the
registry. Torch-free. The ecosystem-format verbs (import, sync, export, search) live in zoo/formats/formats_cli.py.

Exit codes: 0 ok, 1 `check` / `readme --check` / `settings --check` / `sync --check` / `export --check` found
problems, 2 usage error, unknown id or bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from zoo import settings
from zoo.errors import RegistryError, ZooError
from zoo.formats import formats_cli, readme
from zoo.formats.export import entry_to_dict
from zoo.registry.load import load_registry, registry_paths
from zoo.registry.schema import DocumentedRow, Entry, Registry, TopDownProtocol
from zoo.version import add_version_argument

#: The program name in usage lines; `hrnet-zoo` passes its own.
PROG = "python -m zoo"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="The HRNet model-zoo registry (zoo.yaml).")
    add_version_argument(parser)
    add_registry_argument(parser)
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add_verbs(sub)
    return parser


def add_registry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="PATH",
        help="zoo.yaml to read (default: $HRNET_ZOO_REGISTRY, else the checkout's, else the installed copy)",
    )


def add_verbs(sub) -> None:
    """Every verb of `python -m zoo`, on `sub` (hrnet-zoo adds them to its own parser too)."""
    p = sub.add_parser("list", help="entries whose id matches PATTERN (shell wildcards)")
    p.add_argument("pattern", nargs="?", default="*", help="e.g. 'hrnet_w32_*' or '*horse10*' (default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON array of full entries")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="everything about one entry, bibtex included")
    p.add_argument("id", help="entry id, e.g. hrnet_w32_aic_256x192")
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    p.set_defaults(func=_show)

    p = sub.add_parser("check", help="validate zoo.yaml, keypoint schemas, bibtex and README freshness")
    p.add_argument(
        "--readme",
        metavar="PATH",
        default=None,
        help="README to check (default: $HRNET_ZOO_README, else a checkout's README.md; none when installed)",
    )
    p.set_defaults(func=_check)

    p = sub.add_parser("readme", help="regenerate the README tables from zoo.yaml")
    p.add_argument("--check", action="store_true", help="only check that the tables are up to date")
    p.add_argument(
        "--readme",
        metavar="PATH",
        default=None,
        help="README to write (default: $HRNET_ZOO_README, else a checkout's README.md; none when installed)",
    )
    p.set_defaults(func=_readme)

    p = sub.add_parser("settings", help="the HRNET_ZOO_* environment variables and their values now")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="only check that the table in docs/DESIGN.md is current")
    mode.add_argument("--write", action="store_true", help="rewrite the table in docs/DESIGN.md from zoo/settings.py")
    p.set_defaults(func=_settings)
    formats_cli.add_verbs(sub)


def main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    settings.warn_unknown()  # once, before the verb reads any variable
    try:
        return int(args.func(args) or 0)
    except ZooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `python -m zoo list | head`
        return 0


def _registry(args: argparse.Namespace) -> Registry:
    return load_registry(args.registry)


def _list(args: argparse.Namespace) -> int:
    entries = _registry(args).match(args.pattern)
    if args.json:
        print(json.dumps([entry_to_dict(e) for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no entry matches {args.pattern!r}", file=sys.stderr)
        return 0
    header = ("id", "head", "input", "dataset", "rows", "checkpoint")
    rows = [
        (
            e.id,
            e.architecture.head,
            "x".join(map(str, e.architecture.input_size)),
            e.dataset,
            ", ".join(r.name for r in e.results),
            e.checkpoint.filename,
        )
        for e in entries
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for r in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    entry = registry.entry(args.id)  # UnknownEntryError (exit 2) lists close matches
    if args.json:
        data = entry_to_dict(entry)
        data["bibtex"] = {key: registry.papers[key] for key in entry.papers}
        print(json.dumps(data, indent=2))
        return 0
    print("\n".join(describe_entry(entry, registry)))
    return 0


def describe_entry(entry: Entry, registry: Registry) -> list[str]:
    """Human-readable lines about an entry: model, files, every result row with its protocol, bibtex."""
    a, c = entry.architecture, entry.checkpoint
    heatmaps = ", ".join(f"{h}x{w}" for h, w in a.heatmap_sizes)
    dataset = registry.datasets[entry.dataset]
    lines = [
        f"{entry.id}: {entry.name}",
        f"  architecture: {a.backbone}-w{a.width}, head {a.head} ({entry.paradigm}), input {a.input_size[0]}x"
        f"{a.input_size[1]} (HxW), heatmaps {heatmaps}, {a.num_keypoints} keypoints ({a.keypoint_schema})",
        f"  checkpoint:   {c.url}",
        f"  sha256:       {c.sha256 or c.sha256_prefix + '...'}" + (f"  ({c.size} bytes)" if c.size else ""),
        f"  log:          {c.log_url or '-'}",
        f"  config:       {entry.config} (MMPose 0.x)",
        f"  dataset:      {dataset.name} ({dataset.key}), {dataset.homepage or 'no homepage recorded'}",
        "  results:",
    ]
    for r in entry.results:
        lines += ["    " + line for line in describe_result(r)]
    lines.append("  papers:")
    for key in entry.papers:
        lines += ["    " + line for line in registry.papers[key].splitlines()]
    return lines


def describe_result(r: DocumentedRow) -> list[str]:
    p, ev, era = r.protocol, r.protocol.evaluator, r.protocol.era
    metrics = "  ".join(f"{m} {t}" for m, t in r.metric_text.items())
    tol = ", ".join(f"{m} ±{v:g}" for m, v in r.tolerances.items())
    if isinstance(p, TopDownProtocol):
        details = (
            f"boxes {readme.boxes_summary(p)}; shift_heatmap {p.shift_heatmap}; vis_thr {p.vis_thr}; "
            f"oks_nms_thr {p.oks_nms_thr}"
        )
    else:
        details = (
            f"max_num_people {p.max_num_people}; detection_threshold {p.detection_threshold:g}; tag_threshold "
            f"{p.tag_threshold:g}; nms_kernel {p.nms_kernel}; adjust {p.adjust}; refine {p.refine}; affine {p.affine}"
        )
    evaluator = ev.details()
    switches = [f"gt_box_shrink {era.gt_box_shrink}"]
    if era.stage_aggregation:
        switches.append(f"stage_aggregation {era.stage_aggregation}")
    if era.grouping_max_groups:
        switches.append(f"grouping_max_groups {era.grouping_max_groups}")
    lines = [
        f"{r.row_id}  [{r.dataset}/{r.split}]  {metrics}",
        f"  tolerance: {tol}",
        f"  protocol:  {p.paradigm}; flip {p.flip}; scales {', '.join(f'{s:g}' for s in p.scales)}; {details}",
        f"  evaluator: {evaluator}",
        f"  era:       {era.name} ({', '.join(switches)})",
        f"  source:    {r.source}" + (f" <- {r.source_page}" if r.source_page else ""),
    ]
    if r.note:
        lines.append(f"  note:      {r.note}")
    return lines


def _check(args: argparse.Namespace) -> int:
    problems: list[str] = []
    registry = None
    try:
        registry = _registry(args)
    except RegistryError as exc:
        problems += exc.problems
    # An installed package has no README of its own: it checks the registry, and a README only when named.
    with_readme = args.readme is not None or readme.default_readme() is not None
    if registry is not None and with_readme:
        problems += readme.readme_problems(registry, args.readme)
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    zoo_path, kp_path, bib_path = registry_paths(args.registry)
    rows = sum(len(e.results) for e in registry.entries.values())
    print(
        f"ok: {len(registry.entries)} entries, {rows} result rows, {len(registry.datasets)} datasets, "
        f"{len(registry.schemas)} keypoint schemas, {len(registry.papers)} papers "
        f"({zoo_path.name}, {kp_path.name}, {bib_path.name}); "
        + (
            "README tables up to date"
            if with_readme
            else f"no README checked ({settings.readme_skipped()}: --readme PATH)"
        )
    )
    return 0


def _readme(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if args.check:
        problems = readme.readme_problems(registry, args.readme)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    changed = readme.write_readme(registry, args.readme)
    print(f"{readme.chosen_readme(args.readme)}: {'tables regenerated' if changed else 'already up to date'}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    if args.check:
        problems = settings.table_problems()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    if args.write:
        changed = settings.write_table()
        print(f"{settings.DESIGN}: {'table rewritten' if changed else 'already up to date'}")
        return 0
    width = max(len(s.name) for s in settings.SETTINGS)
    for s in settings.SETTINGS:
        value = s.raw()
        print(f"{s.name:<{width}}  {'= ' + value if value is not None else '(default: ' + s.default + ')'}")
    where = settings.REPO if settings.in_checkout() else f"user folder {settings.home()}"
    print(f"mode: {settings.mode()} ({where}); registry {settings.registry_file()}")
    return 0
