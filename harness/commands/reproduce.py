"""`python -m harness reproduce --dataset aic`: reproduce every documented row of a dataset and report.

For each row (single- and multi-scale alike): find the data (reference layout under --data-root), fetch and verify
the checkpoint, evaluate (CUDA when present), append the result to results/history/, re-render reports/ and the
README tables, and print the verdicts. Exit 0 when every row reproduced, 1 when any metric is outside its
tolerance, 2 when data or a checkpoint is missing (then nothing in reports/ changes). An interrupted run resumes
from its finished chunks when started again with the same arguments.

Several GPUs or machines: `torchrun --nproc-per-node N -m harness reproduce ...` shares each row's chunks out over
N processes; rank 0 alone writes results, history and reports, and every rank exits with the same status.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import sys
from pathlib import Path

from harness.commands import add_data_root_argument
from harness.commands.evaluate import add_run_arguments, spec_from_args
from harness.distributed import DistributedError
from harness.errors import DataError, DownloadError, HarnessError
from zoo import settings
from zoo.schema import RECORD_MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="reproduce the documented rows of a dataset and render the reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", default="all", help="aic, coco, horse10, macaque, atrw, ... or all (default)")
    p.add_argument(
        "--rows",
        nargs="+",
        default=None,
        metavar="PATTERN",
        help="only rows whose id matches one of these wildcards (e.g. '*multi-scale')",
    )
    add_data_root_argument(p, what="datasets in the reference layout")
    p.add_argument(
        "--runs",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"working folder of the runs (default: ${settings.RUNS} or ./runs)",
    )
    p.add_argument("--offline", action="store_true", help="never download; use the checkpoint cache")
    p.add_argument("--no-report", action="store_true", help="do not re-render reports/ and the README")
    p.add_argument("--chunk-size", type=int, default=512, help=argparse.SUPPRESS)
    add_run_arguments(p)
    p.set_defaults(func=run)


def select_rows(registry, dataset: str, patterns: list[str] | None) -> list:
    if dataset != "all" and dataset not in registry.datasets:
        raise HarnessError(f"unknown dataset {dataset!r}; expected one of: all, {', '.join(registry.datasets)}")
    rows = [r for e in registry.entries.values() for r in e.results if dataset in ("all", r.dataset)]
    if patterns:
        rows = [r for r in rows if any(fnmatch.fnmatchcase(r.row_id, p) for p in patterns)]
    if not rows:
        raise HarnessError(
            f"no documented row matches dataset {dataset!r} and rows {patterns}; see `python -m zoo list`"
        )
    return rows


def preflight(registry, rows, *, data_root: Path, offline: bool) -> tuple[dict, dict]:
    """Data paths of every row and a verified checkpoint of every entry, or one error naming everything missing.
    Runs before any evaluation, so a missing file never leaves a half-finished reproduction behind.

    The cheap part comes first: every row's paths (stat only). A missing dataset is answered with the exact
    `data fetch` command and the manual steps it needs (harness.data.sources), not a homepage. Then the data lock:
    an annotation or box file that changed since the lock was pinned is named on stderr (the run goes on, compares
    every byte it reads with the lock, images included, and does not count as a reproduction). Checkpoints are
    fetched last."""
    from harness.checkpoints.store import fetch
    from harness.data.layout import expected_layout, missing_paths
    from harness.data.sources import check_root, missing_data_hint
    from harness.spec import DataPaths

    check_root(Path(data_root).expanduser())
    problems, data, checkpoints = [], {}, {}
    missing_by_dataset: dict[str, dict[str, list[str]]] = {}  # dataset -> split -> missing paths
    for row in rows:
        ds = registry.datasets[row.dataset]
        split = ds.splits[row.split]
        lines = missing_paths(split, data_root)
        if lines:
            missing_by_dataset.setdefault(ds.key, {})[row.split] = lines
            continue
        root = Path(data_root).expanduser()
        bbox = root / split.bbox_file if split.bbox_file else None
        data[row.row_id] = DataPaths(
            root / split.ann_file, root / split.img_dir, bbox, reference_layout=True, root=root
        )
    for key, by_split in missing_by_dataset.items():
        ds = registry.datasets[key]
        lines = [f"{split}: {line}" for split, missing in by_split.items() for line in missing]
        layouts = "\n".join(expected_layout(ds.splits[split], data_root) for split in by_split)
        problems.append(
            f"dataset {key!r} ({ds.name}) is not complete under {data_root}:\n  - "
            + "\n  - ".join(lines)
            + f"\nExpected layout:\n{layouts}\n"
            + missing_data_hint(ds, Path(data_root))
        )
    if problems:
        raise DataError("\n\n".join(problems))
    for line in _lock_warnings(registry, rows, Path(data_root)):
        print(f"warning: {line}", file=sys.stderr)
    for entry_id in dict.fromkeys(r.entry_id for r in rows):
        entry = registry.entry(entry_id)
        try:
            checkpoints[entry_id] = fetch(
                entry.checkpoint, offline=True if offline else None, progress=sys.stderr.isatty()
            )
        except DownloadError as exc:
            problems.append(f"checkpoint of {entry_id}: {exc}")
    if problems:
        raise DownloadError("\n\n".join(problems))
    return data, checkpoints


def _lock_warnings(registry, rows, data_root: Path) -> list[str]:
    """Annotation and box files of the rows that differ from the data lock, named before anything runs (the run
    then compares every byte it reads, images included, and does not count: harness.engine._data_read)."""
    from harness.checkpoints.hashing import file_sha256
    from harness.data import lock

    out: list[str] = []
    for key in dict.fromkeys(r.dataset for r in rows):
        try:
            entry = lock.dataset_lock(data_root, key)
        except DataError as exc:
            out.append(str(exc))
            continue
        if not entry:
            continue
        ds = registry.datasets[key]
        splits = [ds.splits[r.split] for r in rows if r.dataset == key]
        rels = sorted({p for s in splits for p in (s.ann_file, s.bbox_file) if p})
        current = {rel: file_sha256(data_root / rel) for rel in rels}
        out += [
            f"{key}: {d}; the run will not count as a reproduction (`python -m harness data check {key}` for details)"
            for d in lock.differences(entry, current, must_be_pinned=False)
        ]
    return out


def run(args: argparse.Namespace) -> int:
    from harness import distributed, runtime

    # Under torchrun: join the process group (a no-op otherwise); every rank takes the same path through run().
    ctx = distributed.setup(device=runtime.resolve_device(args.device))
    try:
        rc = _run(args, ctx)
        ctx.barrier()  # rank 0 has written history and reports: every rank leaves together, with the same status
        return rc
    finally:
        distributed.shutdown()


def _run(args: argparse.Namespace, ctx) -> int:
    from harness import report
    from harness.engine import run_evaluation
    from zoo import history, load_registry, readme
    from zoo.verdicts import row_verdict

    registry = load_registry()
    rows = select_rows(registry, args.dataset, args.rows)
    data_root = args.data_root or settings.data_root()
    # Every argument is checked (by the first row's spec) before any data look-up or download.
    specs = {row.row_id: spec_from_args(args, registry, row, data=None) for row in rows}
    try:
        # Rank 0 checks the data and downloads first; the other ranks then find the checkpoints cached.
        data, checkpoints = ctx.main_first(lambda: preflight(registry, rows, data_root=data_root, offline=args.offline))
    except (DataError, DownloadError, DistributedError) as exc:
        # DistributedError: rank 0 failed here (ranks > 0); rank 0 says why, every rank exits 2 together.
        if ctx.is_main:
            print(
                f"error: cannot reproduce {args.dataset}: {exc}\nNothing was run; reports/ is unchanged.",
                file=sys.stderr,
            )
        return 2
    runs_dir = args.runs or settings.runs_dir()
    say = print if ctx.is_main else _silent
    verdicts = []
    for row in rows:
        spec = dataclasses.replace(
            specs[row.row_id],
            data=data[row.row_id],
            checkpoint=checkpoints[row.entry_id],
            published_checkpoint=True,
            offline=args.offline or None,
        )
        out_dir = run_folder(runs_dir, spec)
        say(f"== {row.row_id} ({spec.protocol_name}) -> {out_dir}", file=sys.stderr)
        # runs/ is the harness's own working folder: the previous run there is already in the history.
        outcome = run_evaluation(
            spec, registry=registry, out_dir=out_dir, progress=not args.no_progress, replace_other_runs=True
        )
        record = outcome.record  # the same on every rank: each computes the same verdicts and exit status
        ctx.main_only(lambda record=record: history.append(record))
        verdict = row_verdict(row.row_id, row.metrics, record.metrics, row.tolerances, partial=record.partial)
        verdicts.append((row, verdict, record))
        if outcome.reused_chunks:
            say(f"   resumed: reused {outcome.reused_chunks} finished chunk(s)", file=sys.stderr)
    if not args.no_report:
        ctx.main_only(lambda: _render_reports(registry, report, history, readme))
    if ctx.is_main:
        _print_summary(verdicts)
    return exit_status(verdicts)


def run_folder(runs_dir: Path, spec) -> Path:
    """runs/<row>/<protocol> for a run of the documented row as published; anything else (overrides, --limit, a
    non-record numeric mode) gets a folder of its own, so it can never replace the reproduction's files."""
    base = runs_dir / spec.result.row_id.replace("/", "__")
    plain = not spec.overrides and spec.limit is None and spec.settings.mode in RECORD_MODES
    if plain:
        return base / spec.protocol_name
    tags = [f"{k}={v}" for k, v in spec.overrides.items()]
    tags += [f"limit={spec.limit}"] if spec.limit is not None else []
    tags += [f"mode={spec.settings.mode}"] if spec.settings.mode not in RECORD_MODES else []
    slug = ",".join(tags).replace("/", "_").replace(" ", "")
    return base / f"{spec.protocol_name}+{slug}"


def exit_status(verdicts) -> int:
    """1 when a run that counts as a reproduction (zoo.record.standing) is outside its tolerance, else 0: a run
    with overrides, a partial run or a fast-mode look only informs."""
    failed = [v for _, v, record in verdicts if not record.informational and v.verdict != "reproduced"]
    return 1 if failed else 0


def _render_reports(registry, report, history, readme) -> None:
    """reports/, the README tables and the Hub model cards in exports/ (when the checkout has them): everything that
    shows reproduced numbers is rendered again from the history, so none of it goes stale after a run."""
    from zoo import generated, hf_cards

    records = history.load()
    out = report.default_reports_dir()
    report.write(report.render(registry, records, out), out)
    readme.write_readme(registry, records=records)
    cards = generated.default_exports_dir() / "hf-cards"
    if (cards / generated.MANIFEST).is_file():
        command = f"python -m zoo export hf-cards {cards}"
        generated.write(hf_cards.render(registry, records=records), cards, command=command)


def _silent(*_args, **_kwargs) -> None:
    """print() of the ranks > 0 under torchrun: rank 0 speaks for the run."""


def _print_summary(verdicts) -> None:
    from zoo.history import shown_verdict

    for row, verdict, record in verdicts:
        print(f"{shown_verdict(verdict.label, record):>22}  {row.row_id}")
        for m in verdict.metrics:
            print(
                f"{'':>24}{m.name:<8} documented {row.metric_text[m.name]:>6}  reproduced {m.reproduced:.4f}  "
                f"delta {m.delta:+.4f} ({m.verdict}, {m.direction})"
            )
        if record.informational:
            print(f"{'':>24}information only, not a reproduction: {'; '.join(record.informational)}")
        differences = (record.provenance.get("data") or {}).get("differences") or []
        for line in differences[:10]:  # every file named (the report lists them all)
            print(f"{'':>24}  {line}")
        if differences:
            print(f"{'':>24}  (after an intended change: python -m harness data check {row.dataset} --repin)")
