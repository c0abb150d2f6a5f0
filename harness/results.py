"""Result files of one evaluation run and their provenance.

A run directory holds predictions.json (COCO results format), metrics.json and result.json (identity +
provenance). A result is keyed by what was run (entry, row, protocol, overrides, data and checkpoint hashes,
harness version), never by its value (DESIGN.md principle 3).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from harness.errors import ModelOutputError
from zoo import settings
from zoo.atomic import write_bytes_atomic

REPO = Path(__file__).resolve().parents[1]

#: Packages whose versions can move a number; recorded in every result.
TRACKED_PACKAGES = (
    "torch",
    "timm",
    "numpy",
    "opencv-python-headless",
    "opencv-python",
    "xtcocotools",
    "pycocotools",
    "scipy",
    "munkres",
)


def installed_versions(names) -> dict[str, str]:
    """{name: version} of the distributions among `names` that are installed."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def package_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **installed_versions(TRACKED_PACKAGES)}


def git_state(repo: Path | None = None) -> dict[str, Any]:
    """The harness's git sha and whether the tree had uncommitted changes (None outside a git checkout). An installed
    package has none: site-packages may well sit inside some other project's git tree, whose sha is not ours."""
    if repo is None:
        if not settings.in_checkout():
            return {"sha": None, "dirty": None}
        repo = REPO

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip()

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": None if status is None else bool(status)}


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def json_bytes(obj: Any, *, indent: int | None = 2) -> bytes:
    return (json.dumps(obj, indent=indent, allow_nan=False) + "\n").encode()


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    write_bytes_atomic(path, json_bytes(obj, indent=indent))


def _stdlib(rec: dict) -> bytes:
    try:
        return json.dumps(rec, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as e:
        where = ", ".join(f"{k} {rec[k]}" for k in ("image_id", "bbox_id") if k in rec) or "a record"
        raise ModelOutputError(
            f"prediction for {where} holds a non-finite number (NaN or inf); nothing was written. Check the model's "
            "outputs (checkpoint, input normalisation, fast-mode settings)"
        ) from e


def _encode(rec: dict) -> bytes:
    try:
        text = orjson.dumps(rec)
    except TypeError:  # what orjson does not take (non-str keys, huge ints, surrogates): json.dumps decides
        return _stdlib(rec)
    # orjson writes NaN and inf as null; json.dumps refuses them (and writes a real None as null all the same).
    return _stdlib(rec) if b"null" in text else text


def encode_records(records: list[dict]) -> list[bytes]:
    """Each record as compact JSON with orjson, ~6x faster than json.dumps (float formatting dominated writing 100k
    COCO results). Every number reads back as the very same float: both write the shortest text that round-trips;
    only the notation of |x| < 1e-4 or >= 1e16 differs (orjson 1e-7 / 1e16, Python 1e-07 / 1e+16), and ordinary
    magnitudes give the same bytes (tests/harness/test_results_writing.py). NaN/inf are refused as json.dumps
    refuses them."""
    return [_encode(r) for r in records]


def predictions_bytes(predictions: list[dict]) -> bytes:
    """COCO results format, one record per line inside the array: compact yet diffable."""
    texts = encode_records(predictions)
    # one buffer of ~1 KB per record, not one write call each
    return b"[\n" + b",\n".join(texts) + (b"\n]\n" if texts else b"]\n")


def write_predictions(path: str | os.PathLike, predictions: list[dict]) -> None:
    """predictions_bytes, written atomically: a failure (say a NaN in a record) leaves any earlier file in place."""
    write_bytes_atomic(path, predictions_bytes(predictions))
