"""`python -m harness fetch ID [ID ...] | --all`: download checkpoints into the cache and verify them."""

from __future__ import annotations

import argparse
import sys

from harness.checkpoints import store
from harness.commands import add_json_argument, print_json
from harness.errors import DownloadError
from zoo import settings
from zoo.errors import UnknownEntryError
from zoo.registry.schema import Entry, Registry

EPILOG = f"""\
Prints the path of each verified file on stdout, one per line. Every requested entry is attempted; failures are
reported as they happen and summarised at the end. Exit status: 0 all verified, 1 some failed, 2 unknown id.
Cache: ${settings.CACHE}, else $XDG_CACHE_HOME/hrnet-zoo/checkpoints, else ~/.cache/hrnet-zoo/checkpoints.
Before downloading, torch.hub's folder ($TORCH_HOME/hub/checkpoints, where MMPose, mmcv and torchvision keep theirs)
is searched by published name: a file there is verified by its hash and linked or copied into the cache, never changed.
Offline: --offline, {settings.OFFLINE}=1 or HF_HUB_OFFLINE=1 (a cached or hand-placed file is still verified).
A file under the checkpoint's name that does not verify is renamed to NAME.unverified-<hash>, never deleted.
A download whose size neither the registry nor the server states stops at ${settings.MAX_DOWNLOAD_MB} MiB
(default {settings.DEFAULT_MAX_DOWNLOAD_MB}).
--json: one object {{"checkpoints": [{{"id", "filename", "sha256_prefix", "status": "verified"|"failed", "path",
"error"}}], "verified", "failed"}} on stdout (docs/DESIGN.md, "Machine-readable output")."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fetch",
        help="download checkpoints into the cache and verify their sha256",
        description="Download checkpoints into the cache and verify their sha256 (docs/PROTOCOLS.md §6).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="entry id, or a shell-style pattern such as '*_aic_*'")
    p.add_argument("--all", action="store_true", help="every entry of the registry")
    p.add_argument("--offline", action="store_true", default=None, help="never use the network")
    p.add_argument("--force", action="store_true", help="download again even when a verified copy is cached")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--prefer-mirror", action="store_true", default=None, help="try Hub mirrors before the URL")
    add_json_argument(p)
    p.set_defaults(func=run, _parser=p)


def _load_registry() -> Registry:
    """zoo.load_registry(), imported late (tests replace this function with a tiny registry)."""
    import zoo

    return zoo.load_registry()


def _select(registry: Registry, ids: list[str], *, all_: bool) -> list[Entry]:
    """Entries in request order, without duplicates. Unknown ids raise UnknownEntryError before any download."""
    if all_:
        return list(registry.entries.values())
    chosen: dict[str, Entry] = {}
    for requested in ids:
        if any(c in requested for c in "*?["):
            matched = registry.match(requested)
            if not matched:
                raise UnknownEntryError("entry pattern", requested, [])
            chosen.update((e.id, e) for e in matched)
        else:
            entry = registry.entry(requested)
            chosen[entry.id] = entry
    return list(chosen.values())


def run(args: argparse.Namespace) -> int:
    if bool(args.ids) == bool(args.all):
        args._parser.error("give entry ids or --all (not both)")
    entries = _select(_load_registry(), args.ids, all_=args.all)
    results: list[dict] = []
    failed: list[tuple[str, DownloadError]] = []
    for entry in entries:
        row = {"id": entry.id, "filename": entry.checkpoint.filename, "sha256_prefix": entry.checkpoint.sha256_prefix}
        try:
            path = store.fetch(
                entry.checkpoint,
                offline=args.offline,
                progress=args.progress,
                force=args.force,
                prefer_mirror=args.prefer_mirror,
            )
        except DownloadError as exc:
            print(f"error: {entry.id}: {exc}", file=sys.stderr)
            failed.append((entry.id, exc))
            results.append({**row, "status": "failed", "path": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        results.append({**row, "status": "verified", "path": str(path), "error": None})
        if not args.json:
            print(path, flush=True)
    if failed and len(entries) > 1:
        print(f"\n{len(entries) - len(failed)} of {len(entries)} checkpoints verified; failed:", file=sys.stderr)
        for entry_id, exc in failed:
            print(f"  {entry_id}: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
    if args.json:
        print_json({"checkpoints": results, "verified": len(results) - len(failed), "failed": len(failed)})
    return 1 if failed else 0
