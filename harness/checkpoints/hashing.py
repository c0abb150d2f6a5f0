"""SHA-256 of files, streamed (checkpoints are hundreds of MB), the check against a published hash, and the small
JSON record ("sidecar") that lets a later look-up skip re-hashing a file that has not changed since it verified."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from zoo.atomic import write_text_atomic

CHUNK_SIZE = 1 << 20


def file_sha256(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> str:
    """Lower-case hex SHA-256 of the file at `path`, read in `chunk_size` blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def hash_problems(
    actual_sha256: str,
    actual_size: int,
    *,
    sha256_prefix: str,
    sha256: str | None = None,
    size: int | None = None,
) -> list[str]:
    """What does not match between a file's (sha256, size) and what is expected of it; empty when it verifies.

    `sha256_prefix` is the 8 hex digits from the checkpoint's file name (PROTOCOLS.md §6); `sha256` and `size` are
    checked too when the record has them.
    """
    problems = []
    if not actual_sha256.startswith(sha256_prefix.lower()):
        problems.append(f"sha256 {actual_sha256} does not start with {sha256_prefix.lower()}")
    if sha256 is not None and actual_sha256 != sha256.lower():
        problems.append(f"sha256 {actual_sha256} is not {sha256.lower()}")
    if size is not None and actual_size != size:
        problems.append(f"size {actual_size} bytes is not {size}")
    return problems


def write_record(file: Path, record: Path, sha256: str, *, source: str) -> None:
    """Record that `file` (as it is now: size, mtime) has `sha256`; written to a unique temp file, then renamed."""
    st = file.stat()
    data = {
        "sha256": sha256,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source,
    }
    write_text_atomic(record, json.dumps(data, indent=1) + "\n")


def read_record(file: Path, record: Path) -> tuple[str, int] | None:
    """(sha256, size) from `record` if `file`'s size and mtime (ns) are still exactly those recorded; else None
    (no record, unreadable record, missing file, or a file changed since)."""
    try:
        st = file.stat()
        data = json.loads(record.read_text())
        sha256, size, mtime_ns = str(data["sha256"]), int(data["size"]), int(data["mtime_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (sha256, size) if (size, mtime_ns) == (st.st_size, st.st_mtime_ns) else None
