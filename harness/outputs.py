"""A run's output folder: checked before anything heavy runs, and never a place where the harness replaces a file
it did not write.

The folder holds predictions.json, metrics.json and result.json plus a manifest (`.hrnet-zoo-run.json`) naming the
run key that wrote them and each file's sha256. A file counts as the harness's own only when its bytes match the
manifest; the manifest lists the new hashes as `pending` before the files are replaced, so a run interrupted between
two writes still recognises its own files. Anything else (the user's own predictions.json, a file edited by hand)
is replaced only with --overwrite; files of another run are replaced only where the caller allows it (reproduce's
own working folder, whose previous record is already in the history).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from harness import results
from harness.checkpoints.hashing import file_sha256
from harness.errors import OutputError

OUTPUT_FILES = ("predictions.json", "metrics.json", "result.json")
MANIFEST = ".hrnet-zoo-run.json"


def _manifest(out_dir: Path) -> dict:
    try:
        data = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check(out_dir: Path, *, run_key: str, overwrite: bool = False, replace_other_runs: bool = False) -> None:
    """Raise OutputError unless `out_dir` can take this run's files: a folder (created here when missing) that we
    can write, whose existing output files are this run's own, another run's where `replace_other_runs`, or anything
    when `overwrite`."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder; pass a folder path (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to --out {out_dir} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    if overwrite:
        return
    manifest = _manifest(out_dir)
    written, pending = manifest.get("written") or {}, manifest.get("pending") or {}
    foreign, other = [], []
    for name in OUTPUT_FILES:
        path = out_dir / name
        if not path.exists():
            continue
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise OutputError(f"cannot read {path} ({exc.strerror or exc})") from None
        if sha not in (written.get(name), pending.get(name)):
            foreign.append(name)
        elif run_key is not None and manifest.get("run_key") != run_key:
            other.append(name)
    if foreign:
        raise OutputError(
            f"{out_dir} holds {', '.join(foreign)} that this harness did not write (or that were changed since); "
            "they would be replaced. Choose another --out, move the files, or pass --overwrite"
        )
    if other and not replace_other_runs:
        raise OutputError(
            f"{out_dir} holds the results of another run (key {manifest.get('run_key')}, row "
            f"{manifest.get('row_id')}); this run's key is {run_key}. Choose another --out or pass --overwrite to "
            "replace them"
        )


def write(out_dir: Path, files: dict[str, bytes], *, run_key: str, row_id: str) -> None:
    """Replace the output files with `files` ({name: bytes}), each atomically, recording them in the manifest."""
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    before = _manifest(out_dir)
    kept = {n: h for n, h in (before.get("written") or {}).items() if before.get("run_key") == run_key}
    doc = {"run_key": run_key, "row_id": row_id, "written": kept, "pending": hashes}
    results.write_bytes_atomic(out_dir / MANIFEST, results.json_bytes(doc, indent=1))
    for name, data in files.items():
        results.write_bytes_atomic(out_dir / name, data)
    doc = {"run_key": run_key, "row_id": row_id, "written": hashes, "pending": {}}
    results.write_bytes_atomic(out_dir / MANIFEST, results.json_bytes(doc, indent=1))
