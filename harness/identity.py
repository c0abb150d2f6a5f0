"""A run's identity: everything that can change one of its predictions (DESIGN.md principle 3). Finished chunks are
keyed by it (harness.chunks), so a resume never mixes work of two different runs, and its short hash (the run key)
names the run everywhere.

Covered: entry and row, the protocol as resolved with its overrides, numeric mode and device kind, the chunk layout,
the checkpoint's sha256, the annotation and box files' sha256, the code (a digest of the installed harness and zoo
source plus the versions of the numeric libraries) and, per chunk, the size and mtime of every image it read
(checked again on resume: ChunkStore). Not covered, because they never change a prediction (tests prove it): batch
size, loader workers, torchrun world size, the scoring backend.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness import results

#: Bumped whenever the chunk file format changes (older chunk caches are then ignored).
PREDICTION_FORMAT = 2

#: Libraries whose version can move a prediction (kernels, image decoding, resizing).
NUMERIC_PACKAGES = ("torch", "timm", "numpy", "opencv-python-headless", "opencv-python", "scipy")

_SOURCE_SUFFIXES = (".py", ".yaml", ".bib")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 over the source of the installed `harness` and `zoo` packages (relative paths and bytes): any edit, a
    `git pull` or another install gives another digest, so chunks computed by other code are never reused."""
    h = hashlib.sha256()
    for package in ("harness", "zoo"):
        root = Path(__file__).resolve().parents[1] / package
        for path in sorted(p for p in root.rglob("*") if p.suffix in _SOURCE_SUFFIXES and p.is_file()):
            h.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def numeric_versions() -> dict[str, str]:
    return results.installed_versions(NUMERIC_PACKAGES)


def run_identity(
    spec,
    *,
    checkpoint_sha256: str | None,
    ann_sha256: str,
    bbox_sha256: str | None,
    chunk_layout: Mapping[str, Any],
    model_label: str | None = None,
) -> dict[str, Any]:
    """What was run (harness.spec.EvalSpec plus the hashes of its inputs): a result is keyed by this, never by its
    value."""
    s = spec.settings
    ident = {
        "prediction_format": PREDICTION_FORMAT,
        "row_id": spec.result.row_id,
        "protocol": spec.protocol_name,
        "protocol_resolved": asdict(spec.protocol),
        "overrides": dict(spec.overrides),
        "checkpoint_sha256": checkpoint_sha256,
        "annotations_sha256": ann_sha256,
        "bbox_file_sha256": bbox_sha256,
        "limit": spec.limit,
        # Numerics that can move predictions: device kind and mode (batch size and workers cannot).
        "device": "cuda" if s.device.startswith("cuda") else "cpu",
        "mode": s.mode,
        "autocast_dtype": s.autocast_dtype,
        "crop_backend": spec.crop_backend,
        "chunks": dict(chunk_layout),
        "code": {"digest": code_digest(), "packages": numeric_versions()},
    }
    if model_label is not None:
        ident["model_label"] = model_label
    return ident


def run_key(identity: Mapping[str, Any]) -> str:
    """A short stable hash of a run's identity (canonical JSON), used to name and resume runs."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def items_digest(items: Iterable[Any]) -> str:
    """sha256 of what a chunk covers (instances: image id, box id, box, score; bottom-up: image ids), checked when
    a finished chunk is loaded again."""
    h = hashlib.sha256()
    for item in items:
        h.update(repr(item).encode())
        h.update(b"\n")
    return h.hexdigest()


def image_stats(paths: Iterable[Path]) -> dict[str, list[int]]:
    """{path: [size, mtime_ns]} of the image files a chunk read: what a resume compares to tell a changed image."""
    out = {}
    for path in dict.fromkeys(paths):
        try:
            st = os.stat(path)
        except OSError:
            out[str(path)] = [-1, -1]
            continue
        out[str(path)] = [st.st_size, st.st_mtime_ns]
    return out
