"""`python -m harness inspect ID [--checkpoint PATH] [--json]`: architecture, parameters, hash, meta, strict fit.

Exit status: 0 the checkpoint loads strictly (or there is none to check), 1 it loads safely but does not fit the
architecture (names, shapes, or integer values where the model has floats), or the cache's file is not the published
one; 2 it cannot be loaded safely (unsafe pickle, unreadable file, not a checkpoint format) or the id is unknown.
inspect only reads: a cache file that does not verify is reported, never moved or deleted (`fetch` sets it aside).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoo.registry.schema import Entry, Registry

# torch/timm are imported inside the functions: every verb module is imported to build `--help`.


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show an entry's architecture and whether a checkpoint file fits it",
        description=(
            "Architecture summary and parameter count of an entry; for its checkpoint (--checkpoint, else the "
            "cached published file): sha256 vs the registry's prefix, the file's meta, and whether it loads strictly."
        ),
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", metavar="ID", help="entry id (see `python -m zoo list`)")
    p.add_argument("--checkpoint", type=Path, help="a .pth or .safetensors file (e.g. your own fine-tuned weights)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def _load_registry() -> Registry:
    """The registry (tests replace this function with a tiny one). zoo's loader, not harness.models': an unknown id
    is reported before torch is imported."""
    from zoo import load_registry

    return load_registry()


def inspect_entry(entry: Entry, checkpoint: Path | None = None) -> dict:
    """Everything `inspect` reports, as a JSON-compatible dict. Never raises for a bad file: see `error`."""
    from harness.checkpoints.cache import expected_path
    from harness.checkpoints.convert import sha256_of, to_jsonable
    from harness.checkpoints.safe_load import load_checkpoint
    from harness.checkpoints.strict import describe_diff, diff_state_dict
    from harness.errors import CheckpointError, CheckpointFormatError
    from harness.models.posenet import build_model

    arch = entry.architecture
    model = build_model(arch, device="meta")  # shapes only, no memory
    model_sd = model.state_dict()
    report: dict = {
        "id": entry.id,
        "architecture": {
            "backbone": f"{arch.backbone}-w{arch.width}",
            "head": arch.head,
            "num_keypoints": arch.num_keypoints,
            "input_size": list(arch.input_size),
            "heatmap_sizes": [list(s) for s in arch.heatmap_sizes],
        },
        "params": sum(p.numel() for p in model.parameters()),
        "keys": len(model_sd),
        "expected_sha256_prefix": entry.checkpoint.sha256_prefix,
        "checkpoint": None,
        "strict_load_ok": False,
        "status": "no checkpoint",
    }
    source = "given"
    if checkpoint is None:
        # The file under the checkpoint's cache name, whatever it holds: hashed and reported below, never changed
        # (a look-up through the store would skip a file that does not verify, and inspect is where to see why).
        cached = expected_path(entry.checkpoint)
        if not cached.is_file():
            return report
        checkpoint, source = cached, "cache"
    ck: dict = {"path": str(checkpoint), "source": source}
    report["checkpoint"] = ck
    try:
        digest = sha256_of(checkpoint)
    except OSError as exc:
        report.update(status="unreadable", error=f"cannot read {checkpoint}: {exc}")
        return report
    ck["sha256"] = digest
    ck["hash_matches_registry"] = digest.startswith(entry.checkpoint.sha256_prefix.lower())
    try:
        loaded = load_checkpoint(checkpoint)
    except CheckpointError as exc:
        status = "not a checkpoint" if isinstance(exc, CheckpointFormatError) else "unsafe or unreadable"
        report.update(status=status, error=str(exc), error_type=type(exc).__name__)
        return report
    ck.update(format=loaded.format, meta=to_jsonable(loaded.meta), other_keys=list(loaded.other_keys))
    ck["stripped_prefix"] = loaded.stripped_prefix
    diff = diff_state_dict(model_sd, loaded.state_dict)
    report["strict_load_ok"] = diff.ok
    report["status"] = "loads strictly" if diff.ok else "does not fit"
    if not diff.ok:
        report["key_differences"] = diff.to_dict()
        report["error"] = describe_diff(diff, loaded.state_dict)
    elif source == "cache" and not ck["hash_matches_registry"]:
        report["status"] = "does not verify"
        report["error"] = (
            f"{checkpoint} is not the published file (sha256 {digest} does not start with "
            f"{entry.checkpoint.sha256_prefix}): no run uses it. `python -m harness fetch {entry.id}` moves it "
            "aside (it is never deleted) and downloads the published one."
        )
    return report


def exit_code(report: dict) -> int:
    if report["status"] in ("unsafe or unreadable", "unreadable", "not a checkpoint"):
        return 2
    return 1 if report["status"] in ("does not fit", "does not verify") else 0


def format_text(report: dict) -> str:
    a = report["architecture"]
    lines = [
        f"{report['id']}: {a['backbone']} + {a['head']} head, K={a['num_keypoints']}, input (H, W) "
        f"{tuple(a['input_size'])}, heatmaps {[tuple(s) for s in a['heatmap_sizes']]}",
        f"  parameters: {report['params']:,}   state_dict keys: {report['keys']}",
    ]
    ck = report["checkpoint"]
    if ck is None:
        lines.append(f"  checkpoint: no checkpoint (registry sha256 prefix {report['expected_sha256_prefix']}); "
                     f"run `python -m harness fetch {report['id']}` or pass --checkpoint")  # fmt: skip
        return "\n".join(lines)
    lines.append(f"  checkpoint: {ck['path']} ({ck['source']})")
    if "sha256" in ck:
        verdict = "matches" if ck["hash_matches_registry"] else "DIFFERS from"
        lines.append(f"  sha256: {ck['sha256']} ({verdict} registry prefix {report['expected_sha256_prefix']})")
    if "format" in ck:
        lines.append(f"  format: {ck['format']}" + (f", other entries {ck['other_keys']}" if ck["other_keys"] else ""))
        lines.append(f"  meta: {json.dumps(ck['meta'], sort_keys=True)[:2000]}")
    lines.append(f"  strict load: {'ok' if report['strict_load_ok'] else report['status']}")
    if report.get("error"):
        lines.append("  " + report["error"].replace("\n", "\n  "))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    entry = _load_registry().entry(args.id)
    report = inspect_entry(entry, args.checkpoint)
    print(json.dumps(report, indent=1, sort_keys=True) if args.json else format_text(report))
    return exit_code(report)
