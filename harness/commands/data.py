"""`python -m harness data list|fetch|check [DATASET ...|all] [--data-root DIR]`: the datasets behind the rows.

  list    every dataset's sources (URLs or manual steps, terms, documented hashes) and what the data root holds
  fetch   download, verify and lay out the reference layout (docs/PROTOCOLS.md §5); prints the manual steps for files
          without a direct download; then checks and pins the data lock (harness/data/lock.py). --repin drops the
          dataset's pins first (an archive pinned by mistake) and pins afresh what verifies
  check   validate a data root, fetched or made by hand: paths, annotation and box-file structure, images, and the
          sha256 of every file the rows read against the lock (only files whose size, mtime or inode changed are
          read again; --full reads every byte, which finds bit rot); --repin re-pins after an intended change

Exit status: 0 done; 1 something failed (every problem is listed); 2 fetch: only manual steps remain (listed).
Whatever is missing or could not be got is followed by the exact `data fetch` command (and manual steps) to run.
--json: one JSON object on stdout (docs/DESIGN.md, "Machine-readable output"); the messages stay on stderr.
Downloads go to DATA/downloads/<dataset>/ (resumed when cut off); offline: --offline, HRNET_ZOO_OFFLINE=1 or
HF_HUB_OFFLINE=1. Mirrors: each source's registry mirrors, then $HRNET_ZOO_DATA_MIRROR (comma-separated https URL
prefixes serving PREFIX/<dataset>/<file>, or hf://datasets/OWNER/REPO[@REV] serving <dataset>/<file>).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from harness.commands import add_data_root_argument, add_json_argument, print_json
from harness.errors import HarnessError, TermsNotAcceptedError
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
    add_json_argument(p)
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
        return _list(datasets, root, as_json=args.json)
    if args.action == "check":
        return _check(
            datasets, root, registry, repin=args.repin, samples=args.samples, full=args.full, as_json=args.json
        )
    return _fetch(datasets, root, registry, args)


def _err(line: str) -> None:
    print(line, file=sys.stderr)


# -- list -------------------------------------------------------------------------------------------------------


def _list_view(ds, root: Path) -> dict:
    from harness.data.lock import dataset_lock
    from harness.data.sources import download_path, missing_targets

    pinned = dataset_lock(root, ds.key)
    sources = []
    for s in ds.sources:
        state = "laid out" if not missing_targets(root, s) else "missing"
        if state == "missing" and download_path(root, ds, s).is_file():
            state = "downloaded, not laid out"
        manual = {"file": s.manual.file, "page": s.manual.page, "note": s.manual.note} if s.manual else None
        sources.append({
            "name": s.name, "format": s.format, "state": state, "urls": list(s.urls), "manual": manual,
            "sha256": s.sha256, "targets": list(s.targets), "download_path": str(download_path(root, ds, s)),
            "terms": s.terms, "requires_acceptance": bool(s.requires_acceptance),
        })  # fmt: skip
    return {
        "key": ds.key, "name": ds.name, "splits": list(ds.splits), "homepage": ds.homepage,
        "lock": "pinned" if pinned else "not pinned", "sources": sources,
    }  # fmt: skip


def _list(datasets, root: Path, *, as_json: bool) -> int:
    views = [_list_view(ds, root) for ds in datasets]
    if as_json:
        print_json({"data_root": str(root), "datasets": views})
        return 0
    for ds in views:
        print(f"{ds['key']}: {ds['name']}  splits: {', '.join(ds['splits'])}  lock: {ds['lock']}")
        if not ds["sources"]:
            print("  no sources in the registry" + (f" (see {ds['homepage']})" if ds["homepage"] else ""))
        for s in ds["sources"]:
            where = ", ".join(s["urls"]) if s["urls"] else f"manual: {s['manual']['file']} from {s['manual']['page']}"
            sha = f"sha256 {s['sha256'][:12]}" if s["sha256"] else "sha256 pinned on first use"
            print(f"  {s['name']:<12} {s['format']:<4} {s['state']:<24} {where}")
            print(f"  {'':<12} {sha}; -> {', '.join(s['targets'])}")
            if s["terms"]:
                print(f"  {'':<12} terms{' (needs --accept-terms)' if s['requires_acceptance'] else ''}: {s['terms']}")
    return 0


# -- check ------------------------------------------------------------------------------------------------------


def _lacks_files(ds, root: Path) -> bool:
    from harness.data.layout import missing_paths

    return any(missing_paths(split, root) for split in ds.splits.values())


def _needs_terms(datasets) -> bool:
    return any(s.requires_acceptance for d in datasets for s in d.sources)


def _check_view(report, ds, root: Path) -> dict:
    """`data check`'s JSON for one dataset; `fetch_command` is set when files of the layout are missing."""
    from harness.data.sources import download_path, fetch_command, manual_step, missing_targets

    lacking = not report.ok and _lacks_files(ds, root) and bool(ds.sources)
    manual = [
        manual_step(root, ds, s)
        for s in ds.sources
        if s.manual is not None and missing_targets(root, s) and not download_path(root, ds, s).is_file()
    ]
    return {
        "dataset": report.dataset,
        "ok": report.ok,
        "pinned": report.pinned,
        "lock": report.state or None,  # matches | pinned | not pinned (None: the check failed first)
        "files": report.files,  # compared with the lock
        "files_read": report.read,  # of those, read in full (the others unchanged since the last check)
        "splits": [{"split": s.split, "counts": dict(s.counts), "digest": s.digest} for s in report.splits],
        "problems": list(report.problems),
        "warnings": list(report.warnings),
        "fetch_command": fetch_command([ds.key], root, accept_terms=_needs_terms([ds])) if lacking else None,
        "manual_steps": manual if lacking else [],
    }


def _check(datasets, root: Path, registry, *, repin: bool, samples: int, full: bool, as_json: bool) -> int:
    from harness.data.check import check_dataset
    from harness.data.sources import fetch_command

    if samples < 0:
        raise HarnessError(f"--samples must be 0 or more, got {samples}")
    views = []
    for ds in datasets:
        report = check_dataset(ds, root, registry=registry, samples=samples, repin=repin, full=full)
        views.append(_check_view(report, ds, root))
        if not as_json:
            _print_check(report, ds, root)
    if as_json:
        print_json({"data_root": str(root), "ok": all(v["ok"] for v in views), "datasets": views})
    lacking = [ds for ds, v in zip(datasets, views, strict=True) if v["fetch_command"]]
    if len(lacking) > 1:
        keys = [ds.key for ds in lacking]
        _err(f"to lay out all of them: {fetch_command(keys, root, accept_terms=_needs_terms(lacking))}")
    return 0 if all(v["ok"] for v in views) else 1


def _print_check(report, ds, root: Path) -> None:
    from harness.data.sources import missing_data_hint

    for split in report.splits:
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in split.counts.items())
        digest = f"; data {split.digest[:12]}" if split.digest else ""
        print(f"{report.dataset}/{split.split}: {counts or 'not read'}{digest}")
    for line in report.warnings:
        _err(f"warning: {report.dataset}: {line}")
    if report.ok:
        state = {"pinned": "data lock pinned", "matches": "matches the data lock"}.get(report.state, report.state)
        reread = f"; {report.read} of {report.files} files read, the rest unchanged since the last check"
        print(f"ok: {report.dataset} under {root} ({state}{reread if report.read < report.files else ''})")
        return
    _err(f"FAILED: {report.dataset} under {root}: {len(report.problems)} problem(s)")
    for line in report.problems:
        _err(f"  - {line}")
    if _lacks_files(ds, root):  # the command that lays the missing files out, and the manual steps it needs
        _err("  " + missing_data_hint(ds, root).replace("\n", "\n  "))


# -- fetch ------------------------------------------------------------------------------------------------------


def _fetch_one(ds, root: Path, registry, args: argparse.Namespace) -> dict:
    """Fetch and check one dataset; its JSON view. `status`: laid out | manual steps left | failed."""
    from harness.data.sources import data_root_locked, missing_targets

    # Fetch and check under one hold of the data root's lock when there is something to write: the archives this
    # fetch verified are pinned by the check, with the files, only when the layout passed (harness/data/fetch.py).
    pending = [s for s in ds.sources if missing_targets(root, s)]
    gated = any(s.requires_acceptance for s in pending) and not args.accept_terms  # refused before any write
    writes = bool(args.repin or pending) and not gated
    with data_root_locked(root, create=True) if writes else contextlib.nullcontext():
        return _fetch_and_check(ds, root, registry, args)


def _fetch_and_check(ds, root: Path, registry, args: argparse.Namespace) -> dict:
    from harness.data.check import check_dataset
    from harness.data.fetch import fetch_dataset

    view = {"dataset": ds.key, "status": "failed", "laid_out": [], "present": [], "manual_steps": [], "errors": [],
            "offline": False, "terms_not_accepted": False, "check": None}  # fmt: skip
    try:
        outcome = fetch_dataset(
            ds, root, accept_terms=args.accept_terms, offline=args.offline, prefer_mirror=args.prefer_mirror,
            progress=args.progress, say=_err, repin=args.repin,
        )  # fmt: skip
    except HarnessError as exc:
        view["errors"].append(str(exc))
        view["terms_not_accepted"] = isinstance(exc, TermsNotAcceptedError)
        return view
    view.update(laid_out=outcome.laid_out, present=outcome.present, manual_steps=outcome.manual,
                errors=list(outcome.failed), offline=outcome.offline)  # fmt: skip
    if outcome.laid_out:
        _err(f"{ds.key}: laid out {', '.join(outcome.laid_out)}")
    if outcome.failed:
        return view
    if outcome.manual:
        view["status"] = "manual steps left"
        return view
    report = check_dataset(
        ds, root, registry=registry, samples=args.samples, repin=args.repin, archives=outcome.archives
    )
    view["check"] = _check_view(report, ds, root)
    if not args.json:
        _print_check(report, ds, root)
    if report.ok:
        view["status"] = "laid out"
    else:
        view["errors"].append("the check failed (above)")
    return view


def _fetch(datasets, root: Path, registry, args: argparse.Namespace) -> int:
    from harness.data.sources import fetch_command

    views = [_fetch_one(ds, root, registry, args) for ds in datasets]
    for v in views:
        for message in v["errors"]:
            _err(f"error: {v['dataset']}: {message}")
    manual = [m for v in views for m in v["manual_steps"]]
    if manual:
        _err("manual steps left (these files have no direct download):\n" + "\n".join(f"  - {m}" for m in manual))
    pending = [ds for ds, v in zip(datasets, views, strict=True) if v["status"] != "laid out"]
    again = None
    if pending:
        # --accept-terms only where the user gave it or the terms it accepts were just printed (TermsNotAcceptedError)
        accept = args.accept_terms or any(v["terms_not_accepted"] for v in views)
        again = fetch_command([d.key for d in pending], root, accept_terms=_needs_terms(pending) and accept)
        online = f" online (reconnect, or unset {settings.OFFLINE} and {settings.HF_HUB_OFFLINE})"
        _err(f"then run again{online if any(v['offline'] for v in views) else ''}: {again}")
    if args.json:
        ok = not pending
        print_json({"data_root": str(root), "ok": ok, "datasets": views, "manual_steps": manual, "next": again})
    if any(v["status"] == "failed" for v in views):
        return 1
    return 2 if manual else 0
