"""The last step of `data check`: hash every file the splits read and compare with the data lock, or pin it.

Files are hashed through the stat cache (harness.data.digests: only files whose stat changed are read; `full` reads
every byte again). Then, per dataset:

- no pins yet (or `repin`): the files, the splits' digests and the archives the fetch just verified are pinned;
- pinned: every file that differs is named (with the command that re-pins on purpose) and nothing is written; when
  all match, what the lock does not hold yet (a split checked for the first time, the archives of a fetch) is added.

The lock is written only when something is added. A root where neither the lock nor the stat cache can be written
(read-only) is still checked: a warning says what could not be recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.data import digests, lock
from harness.errors import DataError

#: Changed files named one by one before "... and N more".
SHOWN = 10


@dataclass
class PinOutcome:
    #: "matches" the pins; "pinned" afresh by this check; "not pinned" (a first pin that could not be written)
    state: str = "matches"
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0  # files compared
    read: int = 0  # of those, read in full (the others were unchanged since the last check)
    digests: dict[str, str] = field(default_factory=dict)  # split -> digest of its files


def compare_or_pin(
    root: Path,
    dataset: str,
    split_files: dict[str, list[str]],
    *,
    repin: bool = False,
    full: bool = False,
    archives: dict[str, lock.ArchiveRecord] | None = None,
) -> PinOutcome:
    """`split_files`: split -> the rel paths of every file it reads (annotation file, box file, images)."""
    out = PinOutcome()
    try:
        entry = None if repin else lock.dataset_lock(root, dataset)
    except DataError as exc:
        out.problems.append(str(exc))
        return out
    cache = digests.StatCache(root)
    hashed = digests.content_records(root, [r for rels in split_files.values() for r in rels], full=full, cache=cache)
    out.files, out.read = len(hashed.records) + len(hashed.unreadable), hashed.read
    if hashed.unreadable:
        unreadable = [f"{r} ({why})" for r, why in hashed.unreadable.items()]
        out.problems += [f"{len(unreadable)} file(s) cannot be read:", *_named(unreadable, "unreadable")]
        return out
    files = {rel: lock.FileRecord(sha, size) for rel, (sha, size) in hashed.records.items()}
    splits = {}
    for split, rels in split_files.items():
        shas = {rel: files[rel].sha256 for rel in rels}
        splits[split] = lock.SplitRecord(count=len(rels), digest=digests.split_digest(shas))
        out.digests[split] = splits[split].digest
    if entry is not None and entry.files:
        diffs = lock.differences(entry, {rel: f.sha256 for rel, f in files.items()}, must_be_pinned=False)
        if not diffs:  # same bytes, but another set of them (a file renamed in the annotation file, say)
            diffs = [
                f"split {s}: the set of files it reads changed since the lock was pinned ({entry.splits[s].count} -> "
                f"{rec.count} files)"
                for s, rec in splits.items()
                if s in entry.splits and entry.splits[s].digest != rec.digest
            ]
        if diffs:
            out.problems += [
                *_named(diffs, "changed"),
                f"the data lock {lock.lock_path(root)} pins what was first verified: restore those files, or after "
                f"an intended change run `python -m harness data check {dataset} --repin`",
            ]
            _save_cache(cache, out)
            return out
        new_files = {r: f for r, f in files.items() if r not in entry.files}
        new_splits = {s: r for s, r in splits.items() if entry.splits.get(s) != r}
        pinned = entry.archives
        new_archives = {n: a for n, a in (archives or {}).items() if n not in pinned or pinned[n].sha256 != a.sha256}
        if new_files or new_splits or new_archives:
            _write(out, root, dataset, files=new_files, splits=new_splits, archives=new_archives)
    else:
        pinned = _write(out, root, dataset, files=files, splits=splits, archives=archives, fresh=True)
        out.state = "pinned" if pinned else "not pinned"
    _save_cache(cache, out)
    return out


def _write(out: PinOutcome, root: Path, dataset: str, *, fresh: bool = False, **parts) -> bool:
    try:
        lock.pin(root, dataset, fresh=fresh, **parts)
    except OSError as exc:
        out.warnings.append(
            f"the data lock {lock.lock_path(root)} could not be updated ({exc.strerror or exc}): the data was checked"
            + (" but not pinned" if fresh else " against the pins it holds")
        )
        return False
    return True


def _save_cache(cache: digests.StatCache, out: PinOutcome) -> None:
    if (why := cache.save()) is not None:
        out.warnings.append(f"the stat cache could not be written ({why}): the next check reads every file again")


def _named(lines: list[str], kind: str) -> list[str]:
    """At most SHOWN lines, then a count of the rest."""
    return lines[:SHOWN] + ([f"... and {len(lines) - SHOWN} more {kind}"] if len(lines) > SHOWN else [])
