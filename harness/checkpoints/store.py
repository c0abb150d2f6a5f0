"""The checkpoint store: a local cache of verified checkpoint files, filled from the entry's URL or its Hub mirrors.

Where: `cache_dir()` is `$HRNET_ZOO_CACHE` if set, else `$XDG_CACHE_HOME/hrnet-zoo/checkpoints`, else
`~/.cache/hrnet-zoo/checkpoints`. For a checkpoint named `<name>.pth` (the last part of its URL) it holds:

    <name>.pth          the verified file; `expected_path()` names it (place a manually downloaded file there)
    <name>.pth.sha256   sidecar JSON: sha256, size, mtime_ns, verified_at, source
    <name>.pth.part     an interrupted download, resumed with an HTTP Range request
    <name>.pth.lock     flock()ed while a process fetches this file, so two never download it at once

Verification: a file is verified when its SHA-256 starts with the 8 hex digits in its name (PROTOCOLS.md §6,
`Checkpoint.sha256_prefix`) and equals `Checkpoint.sha256` / has `Checkpoint.size` bytes when the record has them.
Downloads are also checked against Content-Length. Only then is the file renamed into place (`os.replace`); bytes
that do not verify are deleted, so after any failure the cache holds no file under the checkpoint's name.

Policy of `cached_path()`: the sidecar is trusted when the file's size and mtime (ns) are exactly those it recorded
and its hash verifies against the record; that costs one stat(). In doubt (no sidecar, e.g. a manually placed file;
unreadable sidecar; size or mtime changed; `rehash=True`) the file is hashed again: if it verifies, a fresh sidecar
is written; if not, file and sidecar are removed (with a warning naming both hashes) and None is returned. An
in-place edit that keeps size and mtime is not noticed unless `rehash=True`.

Offline: `offline=True`, or `HRNET_ZOO_OFFLINE` / `HF_HUB_OFFLINE` set to 1/true/yes/on, or a network that cannot be
reached (DNS failure, connection refused) raise `OfflineError` naming the URL and the exact path where a manually
downloaded file can be placed. Hub mirrors are then consulted in the Hub's own cache only (`local_files_only`).

Sources are tried in order: our cache, the primary URL, then each `Checkpoint.mirrors` entry (mirrors first with
`prefer_mirror=True` or `HRNET_ZOO_PREFER_MIRROR=1`). When all fail, one error lists every attempt.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.checkpoints.hashing import file_sha256, hash_problems, read_record, write_record
from harness.errors import DownloadError, OfflineError
from zoo.schema import Checkpoint

try:  # POSIX only; elsewhere fetches of the same file are not serialised (the renames stay atomic).
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ChecksumMismatchError",
    "cache_dir",
    "cached_path",
    "expected_path",
    "fetch",
    "file_sha256",
    "is_offline",
]

ENV_CACHE = "HRNET_ZOO_CACHE"
ENV_OFFLINE = "HRNET_ZOO_OFFLINE"
ENV_PREFER_MIRROR = "HRNET_ZOO_PREFER_MIRROR"

log = logging.getLogger(__name__)


class ChecksumMismatchError(DownloadError):
    """Bytes that do not match the checkpoint's published hash (or size); they were deleted, never used."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


# -- locations ------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where verified checkpoints live (read from the environment at each call)."""
    if override := os.environ.get(ENV_CACHE):
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # XDG Base Directory spec: a relative path is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "hrnet-zoo" / "checkpoints"


def expected_path(checkpoint: Checkpoint) -> Path:
    """The path the verified file has in the cache: where a manually downloaded copy must be placed."""
    name = checkpoint.filename
    if not name or name in {".", ".."} or "/" in name or "\\" in name or name.endswith((".part", ".lock")):
        raise DownloadError(
            f"cannot derive a cache file name from the checkpoint URL {checkpoint.url!r}. "
            "Fix the entry's checkpoint.url in zoo.yaml so that it ends with the file name."
        )
    return cache_dir() / name


@dataclass(frozen=True)
class _Paths:
    final: Path

    @property
    def part(self) -> Path:
        return self.final.with_name(self.final.name + ".part")

    @property
    def sidecar(self) -> Path:
        return self.final.with_name(self.final.name + ".sha256")

    @property
    def lock(self) -> Path:
        return self.final.with_name(self.final.name + ".lock")


def is_offline(offline: bool | None = None) -> bool:
    """`offline` when given, else whether HRNET_ZOO_OFFLINE or HF_HUB_OFFLINE is set to a true value."""
    if offline is not None:
        return offline
    return any(_truthy(os.environ.get(v)) for v in (ENV_OFFLINE, "HF_HUB_OFFLINE"))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


# -- cache look-up ----------------------------------------------------------------------------------------------


def cached_path(checkpoint: Checkpoint, *, rehash: bool = False) -> Path | None:
    """The verified cached file of `checkpoint`, or None. Never returns a file whose hash does not verify; such a
    file is removed. See the module docstring for when the sidecar is trusted and when the file is re-hashed."""
    paths = _Paths(expected_path(checkpoint))
    if not rehash and _sidecar_vouches(paths, checkpoint):
        return paths.final
    if not paths.final.exists():
        return None
    with _locked(paths.lock, required=False):  # a read-only shared cache is still verified, without the lock
        return _verify_cached(paths, checkpoint, rehash=rehash)


def _verify_cached(paths: _Paths, checkpoint: Checkpoint, *, rehash: bool) -> Path | None:
    """cached_path's work; the caller holds the lock (or cannot take it)."""
    if not rehash and _sidecar_vouches(paths, checkpoint):
        return paths.final
    try:
        size = paths.final.stat().st_size
        actual = file_sha256(paths.final)
    except FileNotFoundError:
        return None
    if problems := _problems(actual, size, checkpoint):
        log.warning("removing %s, which does not verify: %s", paths.final, "; ".join(problems))
        _discard(paths.final, paths.sidecar)
        return None
    _write_sidecar(paths, actual, source="re-hashed in cache")
    return paths.final


def _sidecar_vouches(paths: _Paths, checkpoint: Checkpoint) -> bool:
    recorded = read_record(paths.final, paths.sidecar)
    return recorded is not None and not _problems(*recorded, checkpoint)


def _problems(sha256: str, size: int, checkpoint: Checkpoint) -> list[str]:
    return hash_problems(
        sha256, size, sha256_prefix=checkpoint.sha256_prefix, sha256=checkpoint.sha256, size=checkpoint.size
    )


def _write_sidecar(paths: _Paths, sha256: str, *, source: str) -> None:
    try:
        write_record(paths.final, paths.sidecar, sha256, source=source)
    except OSError as exc:  # the file is verified either way; without a sidecar the next look-up re-hashes it
        log.warning("could not write %s (%s); the next look-up will hash the file again", paths.sidecar, exc)


def _discard(*files: Path) -> None:
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", f, exc)


@contextmanager
def _locked(lock_path: Path, *, required: bool = True) -> Iterator[None]:
    """Exclusive flock on `lock_path` (created if needed). The lock file stays: deleting it would race.
    When the lock file cannot be created: DownloadError, or no lock at all if not `required`."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if required:
            raise DownloadError(
                f"cannot create the lock file {lock_path}: {exc}. Make the cache writable or set {ENV_CACHE} to a "
                "writable folder."
            ) from exc
        fd = None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another process that is fetching the same file (lock: %s)", lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# -- fetch ------------------------------------------------------------------------------------------------------


def fetch(
    checkpoint: Checkpoint,
    *,
    offline: bool | None = None,
    progress: bool = True,
    force: bool = False,
    prefer_mirror: bool | None = None,
) -> Path:
    """The path of the verified file of `checkpoint`, downloading it into the cache first if needed.

    `offline`: None reads HRNET_ZOO_OFFLINE / HF_HUB_OFFLINE. `progress`: a tqdm bar on stderr (only when stderr is
    a terminal). `force`: download again even when a verified copy is cached (that copy stays until the new one
    verifies). `prefer_mirror`: try Hub mirrors before the URL (None reads HRNET_ZOO_PREFER_MIRROR).

    Raises OfflineError (not cached and no network; names URL and `expected_path`), ChecksumMismatchError (bytes do
    not verify), DownloadError (HTTP error, cut-off transfer, or several sources failed: one line per attempt).
    """
    paths = _Paths(expected_path(checkpoint))
    if not force and _sidecar_vouches(paths, checkpoint):  # the common case costs two stat()s and no lock
        return paths.final
    try:
        paths.final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the checkpoint cache {paths.final.parent}: {exc}. Set {ENV_CACHE} to a writable folder."
        ) from exc
    offline = is_offline(offline)
    if prefer_mirror is None:
        prefer_mirror = _truthy(os.environ.get(ENV_PREFER_MIRROR))
    with _locked(paths.lock):
        if force:
            _discard(paths.part)
        elif (found := _verify_cached(paths, checkpoint, rehash=False)) is not None:
            return found
        attempts: list[tuple[str, DownloadError]] = []
        for label, source in _sources(checkpoint, prefer_mirror=prefer_mirror):
            try:
                source(checkpoint, paths, offline=offline, progress=progress)
            except DownloadError as exc:
                log.info("%s: %s", label, exc)
                attempts.append((label, exc))
                continue
            return paths.final
    raise _all_failed(checkpoint, paths, attempts)


_Source = Callable[..., None]


def _sources(checkpoint: Checkpoint, *, prefer_mirror: bool) -> list[tuple[str, _Source]]:
    # Both build on this module's verify-and-publish helpers, hence imported here, not at the top.
    from harness.checkpoints import download, hub

    primary = [(checkpoint.url, _from_repo_file if checkpoint.url.startswith("file:") else download.from_url)]
    mirrors = [(hub.label(m), hub.source(m)) for m in checkpoint.mirrors]
    return mirrors + primary if prefer_mirror else primary + mirrors


def _all_failed(checkpoint: Checkpoint, paths: _Paths, attempts: list[tuple[str, DownloadError]]) -> DownloadError:
    if len(attempts) == 1:
        return attempts[0][1]
    # Each message's first line names its source and what went wrong; the rest is advice, given once below.
    lines = "\n".join(f"  - {str(exc).splitlines()[0]}" for _, exc in attempts)
    cls = OfflineError if all(isinstance(e, OfflineError) for _, e in attempts) else DownloadError
    return cls(
        f"could not fetch {checkpoint.filename} from any of its {len(attempts)} sources:\n{lines}\n"
        + _manual_hint(checkpoint, paths)
        + (f" {_OFFLINE_NEXT}" if cls is OfflineError else "")
    )


def _manual_hint(checkpoint: Checkpoint, paths: _Paths) -> str:
    return (
        f"To install it by hand, download {checkpoint.url} and place it at {paths.final} "
        f"(its sha256 must start with {checkpoint.sha256_prefix}); it is verified on first use."
    )


def _offline_error(checkpoint: Checkpoint, paths: _Paths, what: str) -> OfflineError:
    """`what`: the first line, naming the source and why it cannot be reached."""
    return OfflineError(f"{what}\n{_manual_hint(checkpoint, paths)} {_OFFLINE_NEXT}")


_OFFLINE_NEXT = f"Or reconnect / unset {ENV_OFFLINE} and HF_HUB_OFFLINE and run `python -m harness fetch` again."


def _offline_reason() -> str:
    names = [v for v in (ENV_OFFLINE, "HF_HUB_OFFLINE") if _truthy(os.environ.get(v))]
    return f"offline mode is on ({', '.join(names) or '--offline'})"


def _publish(paths: _Paths, staged: Path, sha256: str, *, source: str) -> None:
    """Move a verified file into place atomically and record its sidecar."""
    os.replace(staged, paths.final)
    _write_sidecar(paths, sha256, source=source)


def _check(checkpoint: Checkpoint, file: Path, *, source: str, delete: bool) -> str:
    """SHA-256 of `file` if it verifies; else delete it (when it is ours) and raise ChecksumMismatchError."""
    actual, size = file_sha256(file), file.stat().st_size
    if problems := _problems(actual, size, checkpoint):
        if delete:
            _discard(file)
        raise ChecksumMismatchError(
            f"{source} does not verify: {'; '.join(problems)}"
            + (" (the bytes were deleted)" if delete else "")
            + f"\nRetry with `python -m harness fetch --force`; if it persists, the source serves other bytes "
            f"than {checkpoint.filename} names: report it (expected sha256 prefix {checkpoint.sha256_prefix}).",
            expected=checkpoint.sha256 or checkpoint.sha256_prefix,
            actual=actual,
        )
    return actual


# -- a file shipped with the repository -------------------------------------------------------------------------


def repo_file(checkpoint: Checkpoint) -> Path:
    """The file a `file:REL/PATH` URL names, relative to the folder of the registry (zoo.yaml) in use."""
    from zoo.load import registry_paths

    return registry_paths()[0].parent / urllib.parse.urlparse(checkpoint.url).path


def _from_repo_file(checkpoint: Checkpoint, paths: _Paths, *, offline: bool, progress: bool) -> None:
    """Copy a shipped checkpoint into the cache through the same staging and verification as a download: works
    offline, and a shipped file that does not match its published hash is refused like a bad download."""
    source = repo_file(checkpoint)
    if not source.is_file():
        raise DownloadError(f"{checkpoint.url}: {source} does not exist; it ships with the repository (git checkout)")
    staged = paths.final.with_name(f"{paths.final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copyfile(source, staged)
        sha = _check(checkpoint, staged, source=f"the shipped file {source}", delete=True)
        _publish(paths, staged, sha, source=checkpoint.url)
    finally:
        staged.unlink(missing_ok=True)
