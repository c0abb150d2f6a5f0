"""`python -m harness reproduce --dataset aic`: reproduce every documented row of a dataset and report.

For each row (single- and multi-scale alike): find the data (reference layout under --data-root), fetch and verify
the checkpoint, evaluate (CUDA when present), append the result to results/history/, re-render reports/ and the
README tables, and print the verdicts. Exit 0 when every row reproduced, 1 when any metric is outside its
tolerance, 2 when data or a checkpoint is missing (then nothing in reports/ changes). An interrupted run resumes
from its finished chunks when started again with the same arguments.

Several GPUs or machines: `torchrun --nproc-per-node N -m harness reproduce ...` shares each row's chunks out over
N processes; rank 0 alone writes results, history and reports, and every rank exits with the same status.

--json: the summary as one object on stdout, {"dataset", "rows": [{"row_id", "entry_id", "verdict", "counts",
"informational", "partial", "run_key", "run_dir", "metrics": [{"name", "documented", "reproduced", "delta",
"tolerance", "verdict", "direction"}]}], "exit_status"} (docs/DESIGN.md, "Machine-readable output"); progress and
errors stay on stderr (an error that stops the run prints no JSON and exits 2).

On a Slurm cluster: `--launcher slurm` submits every row as a job of one job array (harness.cluster; README "On a
Slurm cluster"), skips rows whose run is already complete and verified, waits with a live table and gathers: this
process alone appends the history and renders the reports. Exit 3 when a job did not run (its row is named with
its log and the last lines of its error); `python -m harness jobs status|wait|cancel` re-attaches after a logout.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import sys
from pathlib import Path

from harness.commands import add_data_root_argument, add_json_argument, print_json
from harness.commands.evaluate import add_run_arguments, spec_from_args
from harness.errors import DataError, DistributedError, DownloadError, HarnessError
from zoo import settings
from zoo.registry.schema import RECORD_MODES


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
    p.add_argument(
        "--chunk-size",
        type=int,
        default=512,
        metavar="N",
        help="instances per resumable chunk (bottom-up: N/32 images), with either launcher (default 512)",
    )
    add_json_argument(p)
    add_run_arguments(p)
    from harness.cluster.options import add_arguments as add_launcher_arguments

    add_launcher_arguments(p)
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
    from harness.cluster.options import resources_from_args

    resources = resources_from_args(args)  # the launcher options are checked first, with either launcher
    if resources is not None:
        if args.json:  # the summary of a Slurm run is gathered later, by whoever waits: no one document to print now
            print("error: --json is not available with --launcher slurm; read the gathered results with "
                  "`python -m harness report` or the run folders' result.json", file=sys.stderr)  # fmt: skip
            return 2
        return _run_slurm(args, resources)
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
    from zoo import load_registry
    from zoo.formats import readme
    from zoo.results import history
    from zoo.results.standing import standing_of

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
        verdicts.append((standing_of(row, record), out_dir))
        if outcome.reused_chunks:
            say(f"   resumed: reused {outcome.reused_chunks} finished chunk(s)", file=sys.stderr)
    if not args.no_report:
        ctx.main_only(lambda: _render_reports(registry, report, history, readme))
    if ctx.is_main and args.json:
        print_json({"dataset": args.dataset, "rows": summary(verdicts), "exit_status": exit_status(verdicts)})
    elif ctx.is_main:
        _print_summary(verdicts, of_record=history.latest_by_row(history.load()))
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
    """1 when a run that counts as a reproduction (zoo.results.record.standing) is outside its tolerance, else 0: a run
    with overrides, a partial run or a fast-mode look only informs."""
    return 1 if any(standing.fails for standing, _ in verdicts) else 0


def _render_reports(registry, report, history, readme) -> None:
    """reports/, the README tables and the Hub model cards in exports/ (when the checkout has them): everything that
    shows reproduced numbers is rendered again from the history, so none of it goes stale after a run. An installed
    package has no README or exports/ of its own: those are written only where HRNET_ZOO_README/EXPORTS say."""
    from zoo import settings
    from zoo.formats import generated, hf_cards

    records = history.load()
    out = report.default_reports_dir()
    report.write(report.render(registry, records, out), out)
    print(f"reports: {out}", file=sys.stderr)
    if readme.default_readme() is not None:
        readme.write_readme(registry, records=records)
    elif settings.in_checkout():
        print(f"README tables not written: {settings.readme_skipped()}", file=sys.stderr)
    exports = generated.default_exports_dir()
    cards = exports / "hf-cards" if exports is not None else None
    if cards is not None and (cards / generated.MANIFEST).is_file():
        generated.write(hf_cards.render(registry, records=records), cards, command="python -m zoo export hf-cards")


def summary(verdicts) -> list[dict]:
    """The rows of `--json`: the same facts as the text summary (verdict as shown, each metric against its
    documented number), plus the run's key and folder."""
    return [
        {
            "row_id": s.row.row_id,
            "entry_id": s.row.entry_id,
            "verdict": s.label,
            "counts": s.counts,
            "informational": list(s.run.informational),
            "partial": bool(s.run.partial),
            "run_key": s.run.run_key,
            "run_dir": str(out_dir),
            "metrics": [_metric_view(m) for m in s.verdict.metrics],
        }
        for s, out_dir in verdicts
    ]


def _metric_view(m) -> dict:
    keys = ("name", "documented", "reproduced", "delta", "tolerance", "verdict", "direction")
    return {k: getattr(m, k) for k in keys}


def _silent(*_args, **_kwargs) -> None:
    """print() of the ranks > 0 under torchrun: rank 0 speaks for the run."""


def _print_summary(verdicts, *, of_record: dict) -> None:
    from zoo.results.history import confirms

    for standing, _ in verdicts:
        row, verdict, record = standing.row, standing.verdict, standing.run
        print(f"{standing.label:>22}  {row.row_id}")
        shown = of_record.get(row.row_id)
        if shown is not None and shown.data != record.data and confirms(record, shown):
            # The reports keep showing the first of equal runs (zoo.results.history.latest_by_row): say why they did not
            # move.
            print(f"{'':>24}same run and numbers as the run of record of {shown.date}: confirmed, reports unchanged")
        for m in verdict.metrics:
            print(
                f"{'':>24}{m.name:<8} documented {row.metric_text[m.name]:>6}  reproduced {m.reproduced:.4f}  "
                f"delta {m.delta:+.4f} ({m.verdict}, {m.direction})"
            )
        if record.informational:
            print(f"{'':>24}information only, not a reproduction: {'; '.join(record.informational)}")
        differences = (record.provenance.data.differences if record.provenance.data else None) or []
        for line in differences[:10]:  # every file named (the report lists them all)
            print(f"{'':>24}  {line}")
        if differences:
            print(f"{'':>24}  (after an intended change: python -m harness data check {row.dataset} --repin)")


# -- --launcher slurm -------------------------------------------------------------------------------------------------

#: Exit status when a job did not run (failed, cancelled, timed out, lost): no verdict for its row.
DID_NOT_RUN = 3


def _run_slurm(args: argparse.Namespace, resources) -> int:
    """Plan the rows, submit those without a complete run as one job array, then wait and gather (or return at
    once with --no-wait). Every check that can fail runs before the first sbatch."""
    from harness.cluster import job, manifest, plan, states, submit
    from zoo import load_registry

    registry = load_registry()
    rows = select_rows(registry, args.dataset, args.rows)
    data_root = args.data_root or settings.data_root()
    device_args = argparse.Namespace(**{**vars(args), "device": "cpu"})  # the job's device is set for its node
    specs = {row.row_id: spec_from_args(device_args, registry, row, data=None) for row in rows}
    runs_dir = Path(args.runs or settings.runs_dir()).absolute()  # jobs may start in another folder

    def job_spec(row, data, checkpoint) -> tuple:
        """(the spec the row's job runs, its run folder)."""
        spec = dataclasses.replace(
            specs[row.row_id], data=data, checkpoint=checkpoint.absolute(), published_checkpoint=True,
            offline=args.offline or None,
        )  # fmt: skip
        spec = job.for_node(
            spec, device=resources.device, threads=resources.cpus_per_task, workers_given=args.workers is not None
        )
        return spec, run_folder(runs_dir, spec)

    if args.dry_run:  # before any data check or download: a plan needs neither the data nor the checkpoints
        from harness.cluster import dryrun

        device = args.estimate_device or resources.device
        lines = dryrun.row_lines(rows, specs, registry=registry, data_root=Path(data_root).expanduser(),
                                 runs_dir=runs_dir, resources=resources, device=device, job_spec=job_spec)  # fmt: skip
        print(dryrun.render(lines, resources, device=device, max_running=resources.max_running))
        return 0
    try:
        data, checkpoints = preflight(registry, rows, data_root=data_root, offline=args.offline)
    except (DataError, DownloadError) as exc:
        print(f"error: cannot reproduce {args.dataset}: {exc}\nNothing was submitted; reports/ is unchanged.",
              file=sys.stderr)  # fmt: skip
        return 2
    pairs = [job_spec(row, data[row.row_id], checkpoints[row.entry_id]) for row in rows]
    plans = plan.build(pairs, runs_dir, jobs_per_row=resources.jobs_per_row)
    with manifest.locked(runs_dir) as known:
        queue = states.squeue(j for p in plans if p.key in known for j in known[p.key].job_ids())
        todo, attached = [], []
        for p in plans:
            entry = known.get(p.key)
            ids = entry.job_ids() if entry and entry.run_key == p.run_key else []
            if p.complete:
                if entry is None or entry.run_key != p.run_key:  # complete before any job (e.g. a local run)
                    known[p.key] = manifest.RowJob(p.key, p.spec.result.row_id, p.spec.protocol_name, p.run_key,
                                                   gathered="before submission")  # fmt: skip
            elif any(j in queue and queue[j].state in states.ACTIVE for j in ids):
                attached.append(p)
            else:
                todo.append(p)
        requests = [[job.JobRequest(p.spec, registry, p.out_dir, p.run_key, p.inputs, part) for part in p.requests()]
                    for p in todo]  # fmt: skip
        ids = submit.submit(todo, requests, runs_dir, resources, known) if todo else []
    done = len(plans) - len(todo) - len(attached)
    print(f"submitted {len(ids)} job(s) for {len(todo)} row(s) ({resources.describe()}); {len(attached)} still "
          f"queued or running; {done} complete and verified, not submitted again. Manifest: {manifest.path(runs_dir)}",
          file=sys.stderr)  # fmt: skip
    if args.no_wait:
        print(f"re-attach with: python -m harness jobs wait {runs_dir}", file=sys.stderr)
        return 0
    return gather(runs_dir, keys=[p.key for p in plans], report=not args.no_report, progress=not args.no_progress)


def gather(runs_dir: Path, *, keys: list[str] | None = None, report: bool = True, progress: bool = True) -> int:
    """Wait for the manifest's jobs (those of `keys`, else all), then, as the one writer under the manifest's lock,
    append each complete and verified result to the history once and render the reports; print the verdicts and
    each row that did not run with its log. Exit 3 when a job did not run, else as the local launcher."""
    from harness import report as report_module
    from harness.cluster import manifest, plan, states, wait
    from zoo import load_registry
    from zoo.formats import readme
    from zoo.results import history
    from zoo.results.record import RunRecord
    from zoo.results.standing import standing_of

    known = manifest.load(runs_dir)
    if not known:
        raise HarnessError(f"no job manifest in {runs_dir} ({manifest.path(runs_dir)} does not exist)")
    rows = [known[k] for k in (keys or known) if k in known]
    found = wait.wait(runs_dir, [r for r in rows if not r.gathered], progress=progress)
    registry = load_registry()
    verdicts, missed, appended = [], [], False
    with manifest.locked(runs_dir) as current:
        for row in rows:
            entry, state = current.get(row.key, row), found.get(row.key)
            out_dir = runs_dir / row.key
            if state is not None and not (state.done and plan.complete(out_dir, entry.run_key)):
                if state.done:  # it returned, but what it wrote is not the run this command planned
                    why = f"{out_dir} does not hold a verified run {entry.run_key} (other code or data on the node?)"
                    state = dataclasses.replace(state, state="FAILED", error=why)
                missed.append((entry, state))
                continue
            record = RunRecord.from_dict(json.loads((out_dir / "result.json").read_text()), out_dir / "result.json")
            if not entry.gathered:
                entry.gathered = history.append(record).name
                appended = True
            verdicts.append((standing_of(registry.row(record.row_id), record), out_dir))
        if appended and report:
            _render_reports(registry, report_module, history, readme)
    _print_summary(verdicts, of_record=history.latest_by_row(history.load()))
    for entry, state in missed:
        _print_did_not_run(runs_dir, entry, state, states)
    return DID_NOT_RUN if missed else exit_status(verdicts)


def _print_did_not_run(runs_dir: Path, entry, state, states) -> None:
    folder = runs_dir / "jobs" / "logs" / "%j"
    out, err = states.log_paths(folder, state.job_id)  # a split row: the job of its that did not run
    print(f"{'did not run':>22}  {entry.row_id}  (job {state.job_id} {state.why()})")
    print(f"{'':>24}log: {err}")
    for text in states.tail(err) or states.tail(out) or ["(the log is empty)"]:
        print(f"{'':>24}| {text}")
