"""The data lock: what a data root held when it was first verified, so that a later change is named, not silent.

`<data root>/hrnet-zoo-data.lock.json` is written by the first verified `data fetch` or `data check` of a dataset
(pinned on first use: the archives' hashes are not documented, see zoo.yaml). Per dataset it records

    archives   sha256 and size of every downloaded or hand-placed archive, by source name (a re-download that
               differs is refused unless the registry documents the new hash)
    files      sha256 and size of every file the rows read (annotation files, detection box files)
    splits     per split: image count and a digest of the image list (file names and sizes, in annotation order)

`data check` and `reproduce` compare with it and name every file that changed; `data check --repin` re-pins after an
intended change. The same fingerprint (`fingerprint()`) goes into each run's result.json, so a report can show which
data a number was computed on and warn when it differs from the lock (`compare_with_lock()`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.checkpoints.hashing import file_sha256
from harness.errors import DataError
from zoo.atomic import write_text_atomic

LOCK_NAME = "hrnet-zoo-data.lock.json"
LOCK_VERSION = 1


def lock_path(data_root: str | os.PathLike) -> Path:
    return Path(data_root) / LOCK_NAME


def file_record(path: Path) -> dict[str, Any]:
    """{"sha256", "size"} of a file (read in full)."""
    return {"sha256": file_sha256(path), "size": path.stat().st_size}


def image_list_digest(img_dir: Path, file_names: Iterable[str]) -> dict[str, Any]:
    """Image count and sha256 over `name<TAB>size<LF>` per image in the given (annotation) order; a missing image
    counts with size -1. Costs one stat() per image: cheap enough for every run (COCO val: 5000 images)."""
    digest = hashlib.sha256()
    count = 0
    for name in file_names:
        try:
            size = (img_dir / name).stat().st_size
        except OSError:
            size = -1
        digest.update(f"{name}\t{size}\n".encode())
        count += 1
    return {"count": count, "list_sha256": digest.hexdigest()}


def fingerprint(
    ann_file: str | os.PathLike,
    bbox_file: str | os.PathLike | None,
    img_dir: str | os.PathLike,
    image_file_names,
    *,
    known: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The data fingerprint of one run: annotation file and box file (sha256, size) and the image list digest.

    For result.json (`record["provenance"]["data"]`); `image_file_names` are the images' `file_name` values in
    annotation order (all of the split's images, not only a --limit subset, so that runs of one split compare).
    `known`: {path: {"sha256", "size", ...}} of files the caller has already hashed (a run hashes its inputs once).
    """
    known = known or {}

    def record(path) -> dict[str, Any]:
        info = known.get(str(path))
        return {"sha256": info["sha256"], "size": info["size"]} if info else file_record(Path(path))

    return {
        "annotations": record(ann_file),
        "bbox_file": record(bbox_file) if bbox_file is not None else None,
        "images": image_list_digest(Path(img_dir), image_file_names),
    }


# -- the lock file --------------------------------------------------------------------------------------------


def read_lock(data_root: str | os.PathLike) -> dict[str, Any]:
    """The lock's content ({"version", "datasets": {...}}); an empty lock when there is none yet."""
    path = lock_path(data_root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": LOCK_VERSION, "datasets": {}}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"the data lock {path} cannot be read ({exc}); it pins what this data root held when first verified. "
            f"Restore it, or move it aside and run `python -m harness data check` to pin the data again."
        ) from exc
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION or not isinstance(data.get("datasets"), dict):
        raise DataError(
            f"the data lock {path} is not a version-{LOCK_VERSION} lock; move it aside and run "
            "`python -m harness data check` to pin the data again"
        )
    return data


def dataset_lock(data_root: str | os.PathLike, dataset: str) -> dict[str, Any] | None:
    entry = read_lock(data_root)["datasets"].get(dataset)
    return entry if isinstance(entry, dict) else None


def update_dataset(data_root: str | os.PathLike, dataset: str, **parts: dict) -> None:
    """Merge `parts` (archives / files / splits mappings) into the dataset's lock entry; written atomically.

    Callers hold the data root's fetch lock (harness.data.fetch.data_root_locked) or run alone (`data check`)."""
    lock = read_lock(data_root)
    entry = lock["datasets"].setdefault(dataset, {})
    for key, values in parts.items():
        entry.setdefault(key, {}).update(values)
    entry["pinned_at"] = entry.get("pinned_at") or _now()
    entry["updated_at"] = _now()
    _write(lock_path(data_root), lock)


def replace_dataset(data_root: str | os.PathLike, dataset: str, entry: dict) -> None:
    """Pin the dataset afresh (`data check --repin`): its earlier entry is replaced, archives kept."""
    lock = read_lock(data_root)
    old = lock["datasets"].get(dataset) or {}
    lock["datasets"][dataset] = {"archives": old.get("archives", {}), **entry, "pinned_at": _now()}
    _write(lock_path(data_root), lock)


def _write(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- comparisons ----------------------------------------------------------------------------------------------


def file_differences(locked: dict, current: dict[str, dict]) -> list[str]:
    """One line per file whose (sha256, size) differs from the lock; `current`: relative path -> file_record."""
    out = []
    for rel, now in current.items():
        was = locked.get(rel)
        if was is None:
            continue
        if was.get("sha256") != now["sha256"]:
            out.append(
                f"{rel} changed since the lock was pinned: sha256 {was.get('sha256')} ({was.get('size')} bytes) "
                f"-> {now['sha256']} ({now['size']} bytes)"
            )
    return out


def split_differences(split: str, locked: dict | None, current: dict) -> list[str]:
    if not locked:
        return []
    if locked.get("list_sha256") != current["list_sha256"]:
        return [
            f"split {split}: the image list changed since the lock was pinned ({locked.get('count')} images -> "
            f"{current['count']}; digest {str(locked.get('list_sha256'))[:12]} -> {current['list_sha256'][:12]})"
        ]
    return []


def compare_with_lock(
    data_root: str | os.PathLike, dataset: str, fingerprint: dict, *, split: str, registry=None
) -> list[str]:
    """Warnings (empty: same data, or nothing pinned yet) comparing a run's `fingerprint()` with the data lock.

    The lock is keyed by the registry's layout paths: the split's ann_file / bbox_file name the locked files. For the
    report and result.json; never raises for a missing lock (a run on hand-picked files has none)."""
    if registry is None:
        from zoo import load_registry

        registry = load_registry()
    try:
        entry = dataset_lock(data_root, dataset)
    except DataError as exc:
        return [str(exc)]
    ds = registry.datasets.get(dataset)
    if entry is None or ds is None or split not in ds.splits:
        return []
    layout = ds.splits[split]
    current = {layout.ann_file: fingerprint["annotations"]}
    if layout.bbox_file and fingerprint.get("bbox_file"):
        current[layout.bbox_file] = fingerprint["bbox_file"]
    warnings = file_differences(entry.get("files", {}), current)
    warnings += split_differences(split, entry.get("splits", {}).get(split), fingerprint["images"])
    return warnings
