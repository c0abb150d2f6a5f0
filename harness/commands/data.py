"""`python -m harness data list|fetch|check [DATASET ...|all] [--data-root DIR]`: the datasets behind the rows.

  list    every dataset's sources (URLs or manual steps, terms, documented hashes) and what the data root holds
  fetch   download, verify and lay out the reference layout (PROTOCOLS.md §5); prints the manual steps for files
          without a direct download; then checks and pins the data lock (harness/data/lock.py). --repin drops the
          dataset's pins first (an archive pinned by mistake) and pins afresh what verifies
  check   validate a data root, fetched or made by hand: paths, annotation and box-file structure, images, and the
          sha256 of every file the rows read against the lock (only files whose size, mtime or inode changed are
          read again; --full reads every byte, which finds bit rot); --repin re-pins after an intended change

Exit status: 0 done; 1 something failed (every problem is listed); 2 fetch: only manual steps remain (listed).
Downloads go to DATA/downloads/<dataset>/ (resumed when cut off); offline: --offline, HRNET_ZOO_OFFLINE=1 or
HF_HUB_OFFLINE=1. Mirrors: each source's registry mirrors, then $HRNET_ZOO_DATA_MIRROR (comma-separated https URL
prefixes serving PREFIX/<dataset>/<file>, or hf://datasets/OWNER/REPO[@REV] serving <dataset>/<file>).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from harness.commands import add_data_root_argument
from harness.errors import HarnessError
from zoo import settings

ACTIONS = ("list", "fetch", "check")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="list, fetch (download + verify + lay out) and check the datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=ACTIONS, help="list, fetch or check")
    p.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset keys (default: all)")
    add_data_root_argument(p, what="the reference layout's root")
    p.add_argument("--accept-terms", action="store_true", help="fetch: accept terms of use that require it")
    p.add_argument("--offline", action="store_true", default=None, help="fetch: never use the network")
    p.add_argument("--prefer-mirror", action="store_true", help="fetch: try mirrors before the primary URLs")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument(
        "--repin",
        action="store_true",
        help="check: pin the data lock afresh after an intended change; fetch: drop the dataset's pins, then pin "
        "what verifies",
    )
    p.add_argument("--full", action="store_true", help="check: re-read every file, ignoring the stat cache")
    p.add_argument("--samples", type=int, default=3, metavar="N", help="check: images decoded per split (default 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.data.sources import check_root, select_datasets
    from zoo import load_registry

    registry = load_registry()
    root = (args.data_root or settings.data_root()).expanduser()
    check_root(root)
    chosen: dict = {}
    for name in args.datasets or ["all"]:
        chosen.update((d.key, d) for d in select_datasets(registry, name))
    datasets = list(chosen.values())
    if args.action == "list":
        return _list(datasets, root)
    if args.action == "check":
        return _check(datasets, root, registry, repin=args.repin, samples=args.samples, full=args.full)
    return _fetch(datasets, root, registry, args)


def _list(datasets, root: Path) -> int:
    from harness.data.lock import dataset_lock
    from harness.data.sources import download_path, missing_targets

    for ds in datasets:
        pinned = dataset_lock(root, ds.key)
        print(f"{ds.key}: {ds.name}  splits: {', '.join(ds.splits)}  lock: {'pinned' if pinned else 'not pinned'}")
        if not ds.sources:
            print("  no sources in the registry" + (f" (see {ds.homepage})" if ds.homepage else ""))
        for s in ds.sources:
            state = "laid out" if not missing_targets(root, s) else "missing"
            if state == "missing" and download_path(root, ds, s).is_file():
                state = "downloaded, not laid out"
            where = ", ".join(s.urls) if s.urls else f"manual: {s.manual.file} from {s.manual.page}"
            sha = f"sha256 {s.sha256[:12]}" if s.sha256 else "sha256 pinned on first use"
            print(f"  {s.name:<12} {s.format:<4} {state:<24} {where}")
            print(f"  {'':<12} {sha}; -> {', '.join(s.targets)}")
            if s.terms:
                print(f"  {'':<12} terms{' (needs --accept-terms)' if s.requires_acceptance else ''}: {s.terms}")
    return 0


def _check(datasets, root: Path, registry, *, repin: bool, samples: int, full: bool) -> int:
    from harness.data.check import check_dataset

    if samples < 0:
        raise HarnessError(f"--samples must be 0 or more, got {samples}")
    failed = 0
    for ds in datasets:
        report = check_dataset(ds, root, registry=registry, samples=samples, repin=repin, full=full)
        _print_check(report, root)
        failed += not report.ok
    return 1 if failed else 0


def _print_check(report, root: Path) -> None:
    for split in report.splits:
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in split.counts.items())
        print(f"{report.dataset}/{split.split}: {counts or 'not read'}")
    for line in report.warnings:
        print(f"warning: {report.dataset}: {line}", file=sys.stderr)
    if report.ok:
        state = {"pinned": "data lock pinned", "matches": "matches the data lock"}.get(report.state, report.state)
        reread = f"; {report.read} of {report.files} files read, the rest unchanged since the last check"
        print(f"ok: {report.dataset} under {root} ({state}{reread if report.read < report.files else ''})")
    else:
        print(f"FAILED: {report.dataset} under {root}: {len(report.problems)} problem(s)", file=sys.stderr)
        for line in report.problems:
            print(f"  - {line}", file=sys.stderr)


def _fetch(datasets, root: Path, registry, args: argparse.Namespace) -> int:
    from harness.data.check import check_dataset
    from harness.data.fetch import fetch_dataset
    from harness.data.sources import data_root_locked, fetch_command, missing_targets

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    failed, manual, done = [], [], []
    for ds in datasets:
        # Fetch and check under one hold of the data root's lock (when there is something to write): the archives
        # this fetch verified are pinned by the check, with the files, only when the layout passed.
        writes = args.repin or any(missing_targets(root, s) for s in ds.sources)
        with data_root_locked(root, create=True) if writes else contextlib.nullcontext():
            try:
                outcome = fetch_dataset(
                    ds,
                    root,
                    accept_terms=args.accept_terms,
                    offline=args.offline,
                    prefer_mirror=args.prefer_mirror,
                    progress=args.progress,
                    say=say,
                    repin=args.repin,
                )
            except HarnessError as exc:
                failed.append(f"{ds.key}: {exc}")
                continue
            if outcome.laid_out:
                say(f"{ds.key}: laid out {', '.join(outcome.laid_out)}")
            if not outcome.complete:
                manual += outcome.manual
                continue
            report = check_dataset(
                ds, root, registry=registry, samples=args.samples, repin=args.repin, archives=outcome.archives
            )
        _print_check(report, root)
        (done if report.ok else failed).append(ds.key if report.ok else f"{ds.key}: the check failed (above)")
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    if manual:
        terms = any(s.requires_acceptance for d in datasets for s in d.sources)
        again = fetch_command([d.key for d in datasets], root, accept_terms=terms and args.accept_terms)
        print(
            "manual steps left (these files have no direct download):\n"
            + "\n".join(f"  - {m}" for m in manual)
            + f"\nthen run again: {again}",
            file=sys.stderr,
        )
    if failed:
        return 1
    return 2 if manual else 0
