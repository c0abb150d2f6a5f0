"""The data lock: the exact bytes a data root held when it was first verified, so that a later change is named.

`<data root>/hrnet-zoo-data.lock.json` is written by the first `data check` (or `data fetch`, which ends with a
check) that passes. Per dataset it records

    archives   sha256 and size of every archive the layout was extracted from, by source name: pinned only after the
               archive verified against the registry's hash or, where the registry has none, after it was extracted
               and the layout passed its check (a re-download that differs is refused)
    files      sha256 and size of every file the rows read: annotation files, detection box files, the files an
               evaluator reads beside them (PCKh's .mat) and every image
    splits     per split: how many files it reads and one digest of all its files (digests.split_digest), the
               label reports show for the data a number was computed on

`data check` compares with it (hashing only files whose stat changed; `--full` re-reads all) and names every file that
changed; `reproduce` compares the bytes it decoded. `data check --repin` re-pins after an intended change; `data
fetch DATASET --repin` drops a dataset's pins first (a wrong archive pinned by mistake). The file is read through a
typed schema (the dataclasses below): a hand-edited field of the wrong type is an error naming the file, the field
and the command that rebuilds it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.data import digests
from harness.errors import DataError
from zoo.atomic import write_text_atomic

LOCK_NAME = "hrnet-zoo-data.lock.json"
LOCK_VERSION = 2
#: Version 1 (before image contents were pinned) still reads: its archive and file pins are kept, its image-list
#: digests dropped; the next `data check` pins the images.
READABLE_VERSIONS = (1, 2)


def lock_path(data_root: str | os.PathLike) -> Path:
    return Path(data_root) / LOCK_NAME


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    size: int


@dataclass(frozen=True)
class ArchiveRecord:
    file: str
    sha256: str
    size: int
    source: str = ""


@dataclass(frozen=True)
class SplitRecord:
    count: int  # files the split reads: annotation file, box file, images
    digest: str  # digests.split_digest of every file it reads


@dataclass
class DatasetLock:
    archives: dict[str, ArchiveRecord] = field(default_factory=dict)
    files: dict[str, FileRecord] = field(default_factory=dict)
    splits: dict[str, SplitRecord] = field(default_factory=dict)
    pinned_at: str = ""
    updated_at: str = ""


@dataclass
class DataLock:
    datasets: dict[str, DatasetLock] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {"version": LOCK_VERSION, "datasets": {k: dataclasses.asdict(v) for k, v in self.datasets.items()}}
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


# -- reading: the typed schema ----------------------------------------------------------------------------------


class _BadFieldError(Exception):
    """A field of the lock that does not fit the schema: where (a dotted path) and what."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where} {what}")
        self.where = where


def _kind(value: Any, kind: type, where: str) -> Any:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        name = {str: "a string", int: "an integer", dict: "an object"}[kind]
        raise _BadFieldError(where, f"should be {name}, got {type(value).__name__} {json.dumps(value)[:40]}")
    return value


def _record(cls: type, raw: Any, where: str) -> Any:
    """A flat dataclass of str/int fields from its JSON object; unknown keys are ignored."""
    _kind(raw, dict, where)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING:
                raise _BadFieldError(f"{where}.{f.name}", "is missing")
            continue
        kwargs[f.name] = _kind(raw[f.name], str if f.type in ("str", str) else int, f"{where}.{f.name}")
    return cls(**kwargs)


def _table(cls: type, raw: Any, where: str) -> dict:
    return {str(k): _record(cls, v, f"{where}[{json.dumps(k)}]") for k, v in _kind(raw, dict, where).items()}


def _dataset(raw: Any, where: str, version: int) -> DatasetLock:
    _kind(raw, dict, where)
    entry = DatasetLock(
        archives=_table(ArchiveRecord, raw.get("archives", {}), f"{where}.archives"),
        files=_table(FileRecord, raw.get("files", {}), f"{where}.files"),
        pinned_at=_kind(raw.get("pinned_at", ""), str, f"{where}.pinned_at"),
        updated_at=_kind(raw.get("updated_at", ""), str, f"{where}.updated_at"),
    )
    if version >= 2:
        entry.splits = _table(SplitRecord, raw.get("splits", {}), f"{where}.splits")
    return entry


def read_lock(data_root: str | os.PathLike, *, rebuilding: str | None = None) -> DataLock:
    """The lock (empty when there is none yet); DataError naming the file, the field and the command that rebuilds
    it when it does not fit the schema. `rebuilding`: a dataset about to be pinned afresh, whose entry is dropped
    when it does not fit (so that `--repin` can repair a hand-edited entry)."""
    path = lock_path(data_root)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DataLock()
    except (OSError, ValueError) as exc:
        raise DataError(
            f"the data lock {path} cannot be read ({exc}); it pins what this data root held when first verified. "
            "Restore it, or move it aside and run `python -m harness data check` to pin the data again."
        ) from exc
    version = raw.get("version") if isinstance(raw, dict) else None
    if version not in READABLE_VERSIONS or not isinstance(raw.get("datasets"), dict):
        raise DataError(
            f"the data lock {path} is not a version-{LOCK_VERSION} lock (field 'version' is {version!r} or "
            "'datasets' is not an object); move it aside and run `python -m harness data check` to pin the data again"
        )
    lock = DataLock()
    for key, entry in raw["datasets"].items():
        try:
            lock.datasets[key] = _dataset(entry, f"datasets.{key}", version)
        except _BadFieldError as exc:
            if key == rebuilding:
                continue
            raise DataError(
                f"the data lock {path} is malformed: field {exc}. Rebuild this dataset's pins with "
                f"`python -m harness data check {key} --repin` (it hashes the data again and rewrites the entry)"
            ) from None
    return lock


def dataset_lock(data_root: str | os.PathLike, dataset: str) -> DatasetLock | None:
    return read_lock(data_root).datasets.get(dataset)


# -- writing ----------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_lock(data_root: str | os.PathLike, lock: DataLock) -> None:
    """Write atomically. Callers hold the data root's lock (harness.data.sources.data_root_locked). OSError (a
    read-only root) is the caller's to report."""
    write_text_atomic(lock_path(data_root), lock.to_json())


def pin(
    data_root: str | os.PathLike,
    dataset: str,
    *,
    files: dict[str, FileRecord],
    splits: dict[str, SplitRecord],
    archives: dict[str, ArchiveRecord] | None = None,
    fresh: bool = False,
) -> None:
    """Merge verified pins into the dataset's entry (`fresh`: replace its files and splits, keep its archives)."""
    lock = read_lock(data_root, rebuilding=dataset if fresh else None)
    old = lock.datasets.get(dataset)
    entry = DatasetLock(archives=dict(old.archives) if old else {}, pinned_at=old.pinned_at if old else "")
    if old is not None and not fresh:
        entry.files, entry.splits = dict(old.files), dict(old.splits)
    entry.files.update(files)
    entry.splits.update(splits)
    entry.archives.update(archives or {})
    entry.pinned_at = _now() if fresh or not entry.pinned_at else entry.pinned_at
    entry.updated_at = _now()
    lock.datasets[dataset] = entry
    write_lock(data_root, lock)


def drop(data_root: str | os.PathLike, dataset: str) -> None:
    """Remove a dataset's pins (`data fetch DATASET --repin`), a malformed entry included."""
    if lock_path(data_root).exists():
        lock = read_lock(data_root, rebuilding=dataset)
        lock.datasets.pop(dataset, None)
        write_lock(data_root, lock)


# -- comparisons ----------------------------------------------------------------------------------------------


def differences(entry: DatasetLock, current: dict[str, str], *, must_be_pinned: bool) -> list[str]:
    """One line per file whose sha256 (`current`: rel path -> sha256) differs from its pin; with `must_be_pinned`,
    a file the lock does not list is a difference too (the split it belongs to is pinned)."""
    out = []
    for rel in sorted(current):
        was = entry.files.get(rel)
        if was is None:
            if must_be_pinned:
                out.append(f"{rel} is not in the data lock (the pinned split does not read it)")
        elif was.sha256 != current[rel]:
            now = current[rel]
            out.append(f"{rel} changed since the lock was pinned: sha256 {was.sha256[:16]}... -> {now[:16]}...")
    return out


def compare_run(
    data_root: str | os.PathLike, dataset: str, split: str, read: dict[str, str]
) -> tuple[str | None, list[str]]:
    """(the split's pinned digest, or None when the split is not pinned; the lines naming every file the run read
    whose bytes differ from the lock). `read`: rel path -> sha256 of what the run hashed (the annotation and box
    files, and the bytes of every image it decoded). A lock that cannot be read is one difference, naming why."""
    try:
        entry = dataset_lock(data_root, dataset)
    except DataError as exc:
        return None, [str(exc)]
    if entry is None:
        return None, []
    pinned = entry.splits.get(split)
    return (pinned.digest if pinned else None), differences(entry, read, must_be_pinned=pinned is not None)


def run_data(
    data_root: str | os.PathLike, dataset: str, split: str, *, images: dict[str, str], files: dict[str, str]
) -> dict:
    """What a run's result.json records of its data (`provenance.data`): the sha256 of every image's bytes as decoded
    (`images`, {path: sha256}) and of the annotation and box files (`files`), digested and compared with the lock. A
    file that differs from its pin is named in `differences`; zoo.results.record.standing then keeps the run from
    counting as a reproduction, and zoo.results.record.data_label shows the lock's digest (or why not) in reports and
    the README."""
    root = Path(data_root)
    read = {digests.rel_key(root, path): sha for path, sha in {**images, **files}.items()}
    lock_digest, differences = compare_run(root, dataset, split, read)
    return {
        "split": split,
        "digest": digests.split_digest(read),
        "files": len(read),
        "images": len(images),
        "lock_digest": lock_digest,
        "differences": differences,
    }
