"""Content hashes of the files a dataset's rows read, fast: sha256 in parallel threads, and a stat cache.

The data lock (harness.data.lock) pins a sha256 of every file a row reads, images included (COCO val: 5000 images,
~800 MB). Hashing them all on every `data check` would cost seconds, so, as git's index does, a stat cache remembers
each file's (size, mtime_ns, ctime_ns, inode) with the digest it had: a file whose stat is unchanged is not read
again. `full=True` (`data check --full`) ignores the cache: bit rot keeps size, mtime and inode, and only reading
the bytes finds it. `reproduce` does not use the cache at all: it hashes the bytes it decodes (harness.data.images).

The cache is `<data root>/.hrnet-zoo-data.stat-cache.json`, a machine-local accelerator, never a source of truth:
deleting it only costs one full read. An entry is trusted only when the file's mtime is older than the cache's own
stamp by RACY_NS ("racily clean" in git: a file rewritten within the same clock tick as the hashing keeps its mtime).

Why sha256 (weighed against blake3 and xxhash in docs/PERFORMANCE.md, "Data lock"): the registry and the checkpoint
store already use it, hashlib ships with Python and releases the GIL, and on this machine two threads hash faster
than the disk reads; xxhash is not a cryptographic hash (a crafted file could match a pinned digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from zoo.atomic import write_text_atomic

CACHE_NAME = ".hrnet-zoo-data.stat-cache.json"
CACHE_VERSION = 1
#: A cached digest is trusted only for a file whose mtime is at least this much older than the cache's stamp.
RACY_NS = 2_000_000_000
#: Files are read in blocks of this size.
BLOCK = 1 << 20
#: Files hashed per task of the thread pool.
BATCH = 16


def hash_threads() -> int:
    """Threads that hash at once: hashlib releases the GIL while it hashes and while it reads, so one per core keeps
    every core busy, and a few more overlap the waits of reads that miss the page cache."""
    return min(16, (os.cpu_count() or 1) + 2)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike) -> tuple[str, int]:
    """(sha256, size) of a file, read in BLOCK-sized pieces."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def rel_key(root: Path, path: str | os.PathLike) -> str:
    """The lock's name of a file: its path relative to the data root, normalised, with forward slashes."""
    return Path(os.path.relpath(path, root)).as_posix()


def layout_key(rel_dir: str, name: str) -> str:
    """The lock's name of `name` inside a layout folder (`img_dir` + an annotation's `file_name`)."""
    return posixpath.normpath(posixpath.join(rel_dir, name))


def split_digest(files: dict[str, str]) -> str:
    """One digest of a split's data: sha256 over `path<TAB>sha256<LF>` of every file it reads, sorted by path. The
    lock records it per split; a run whose files all match the lock ran on the data with this digest."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(f"{rel}\t{files[rel]}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _Stat:
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Stat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class StatCache:
    """rel path -> (stat, sha256) of files hashed before; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.path = root / CACHE_NAME
        self.stamp = 0
        self.entries: dict[str, tuple[_Stat, str]] = {}
        self.changed = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION:
                self.stamp = int(data["stamp_ns"])
                for rel, (size, mtime, ctime, ino, sha) in data["files"].items():
                    self.entries[rel] = (_Stat(int(size), int(mtime), int(ctime), int(ino)), str(sha))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.entries = {}  # no cache, or one this code cannot read: everything is hashed, nothing is lost

    def get(self, rel: str, stat: _Stat) -> str | None:
        hit = self.entries.get(rel)
        if hit is None or hit[0] != stat or stat.mtime_ns > self.stamp - RACY_NS:
            return None
        return hit[1]

    def put(self, rel: str, stat: _Stat, sha256: str) -> None:
        if self.entries.get(rel) != (stat, sha256):
            self.entries[rel] = (stat, sha256)
            self.changed = True

    def save(self) -> str | None:
        """Write the cache (atomically) when it changed; the reason it could not be written, else None."""
        if not self.changed:
            return None
        files = {rel: [s.size, s.mtime_ns, s.ctime_ns, s.ino, sha] for rel, (s, sha) in sorted(self.entries.items())}
        data = {"version": CACHE_VERSION, "stamp_ns": time.time_ns(), "files": files}
        try:
            write_text_atomic(self.path, json.dumps(data, separators=(",", ":")) + "\n")
        except OSError as exc:
            return f"{self.path}: {exc.strerror or exc}"
        self.changed = False
        return None


@dataclass
class Hashed:
    """What `content_records` found: {rel: (sha256, size)} of the files there, the ones it could not read (their
    rel path -> why), and how many it read (the rest came from the stat cache)."""

    records: dict[str, tuple[str, int]]
    unreadable: dict[str, str]
    read: int


def content_records(root: Path, rels: Iterable[str], *, full: bool = False, cache: StatCache | None = None) -> Hashed:
    """The (sha256, size) of every `rels` file under `root`: unchanged files from the stat cache (unless `full`),
    the others hashed in parallel; the cache is updated in memory (the caller saves it)."""
    cache = cache if cache is not None else StatCache(root)
    records: dict[str, tuple[str, int]] = {}
    unreadable: dict[str, str] = {}
    todo: dict[str, tuple[Path, _Stat]] = {}
    for rel in dict.fromkeys(rels):
        path = root / rel
        try:
            stat = _Stat.of(path.stat())
        except OSError as exc:
            unreadable[rel] = exc.strerror or str(exc)
            continue
        sha = None if full else cache.get(rel, stat)
        if sha is not None:
            records[rel] = (sha, stat.size)
        else:
            todo[rel] = (path, stat)
    hashed = _hash_each(todo, unreadable)
    for rel, (sha, size) in hashed.items():
        records[rel] = (sha, size)
        stat = todo[rel][1]
        if size == stat.size:  # a file that changed while it was read is not cached
            cache.put(rel, stat, sha)
    return Hashed(records, unreadable, len(todo))


def _hash_each(todo: dict[str, tuple[Path, _Stat]], unreadable: dict[str, str]) -> dict[str, tuple[str, int]]:
    """{rel: (sha256, size)} of the files, hashed in parallel threads, BATCH files per task (one task per COCO
    image cost more in the pool than the hashing gained: benchmarks/cases/data_lock.py); an unreadable file is named
    in `unreadable` instead of stopping the others."""

    def some(paths: list[Path]) -> list[tuple[str, int] | OSError]:
        out: list[tuple[str, int] | OSError] = []
        for path in paths:
            try:
                out.append(file_digest(path))
            except OSError as exc:
                out.append(exc)
        return out

    paths = [p for p, _ in todo.values()]
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    if len(batches) < 2:
        results = some(paths)
    else:
        with ThreadPoolExecutor(max_workers=hash_threads(), thread_name_prefix="hash") as pool:
            results = [r for batch in pool.map(some, batches) for r in batch]
    out = {}
    for rel, result in zip(todo, results, strict=True):
        if isinstance(result, OSError):
            unreadable[rel] = result.strerror or str(result)
        else:
            out[rel] = result
    return out
