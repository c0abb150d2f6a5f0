"""The checkpoint cache's files and the verify-then-publish step every source ends with.

A leaf of harness.checkpoints: `store` (look-up, fetch, the run's check), `download` (HTTP) and `hub` (Hub mirrors)
import it; it imports none of them. Where: `cache_dir()` (zoo/settings.py) is `$HRNET_ZOO_CACHE` if set, else
`$XDG_CACHE_HOME/hrnet-zoo/checkpoints`, else `~/.cache/hrnet-zoo/checkpoints`. For a checkpoint named `<name>.pth`
(the last part of its URL) it holds:

    <name>.pth                   the verified file; `expected_path()` names it (place a manually downloaded file there)
    <name>.pth.sha256            sidecar JSON: sha256, size, mtime_ns, verified_at, source
    <name>.pth.part              an interrupted download, resumed with an HTTP Range request
    <name>.pth.lock              flock()ed while a process fetches this file, so two never download it at once
    <name>.pth.unverified-<8hex> a file found under the name that did not verify, set aside (never deleted: it may
                                 be the user's own); <8hex> starts its sha256

Verification: a file is verified when its SHA-256 starts with the 8 hex digits in its name (PROTOCOLS.md §6,
`Checkpoint.sha256_prefix`) and equals `Checkpoint.sha256` / has `Checkpoint.size` bytes when the record has them.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from harness import locks
from harness.checkpoints.hashing import file_sha256, hash_problems, read_record, write_record
from harness.errors import ChecksumMismatchError, DownloadError, OfflineError
from zoo import settings
from zoo.errors import SettingError
from zoo.registry.schema import Checkpoint
from zoo.settings import cache_dir

log = logging.getLogger(__name__)


# -- locations ------------------------------------------------------------------------------------------------


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
class CachePaths:
    """The cache's files for one checkpoint (see the module docstring)."""

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

    def set_aside_as(self, sha256: str) -> Path:
        return self.final.with_name(f"{self.final.name}.unverified-{sha256[:8]}")


def max_download_bytes() -> int:
    """The bound on a download of unknown size: $HRNET_ZOO_MAX_DOWNLOAD_MB MiB, else its default (2048)."""
    try:
        return int(settings.max_download_mib() * (1 << 20))
    except SettingError as exc:  # a download's error: the fetch verbs report it as they report a failed download
        raise DownloadError(str(exc)) from exc


# -- offline and messages ---------------------------------------------------------------------------------------


def is_offline(offline: bool | None = None) -> bool:
    """`offline` when given, else whether HRNET_ZOO_OFFLINE or HF_HUB_OFFLINE is set to a true value."""
    if offline is not None:
        return offline
    return bool(settings.offline_switches())


def offline_reason() -> str:
    return f"offline mode is on ({', '.join(settings.offline_switches()) or '--offline'})"


OFFLINE_NEXT = (
    f"Or reconnect / unset {settings.OFFLINE} and {settings.HF_HUB_OFFLINE} and run `python -m harness fetch` again."
)


def manual_hint(checkpoint: Checkpoint, paths: CachePaths) -> str:
    return (
        f"To install it by hand, download {checkpoint.url} and place it at {paths.final} "
        f"(its sha256 must start with {checkpoint.sha256_prefix}); it is verified on first use."
    )


def offline_error(checkpoint: Checkpoint, paths: CachePaths, what: str) -> OfflineError:
    """`what`: the first line, naming the source and why it cannot be reached."""
    return OfflineError(f"{what}\n{manual_hint(checkpoint, paths)} {OFFLINE_NEXT}")


# -- verification and the sidecar -------------------------------------------------------------------------------


def problems(sha256: str, size: int, checkpoint: Checkpoint) -> list[str]:
    """What does not match the registry's record of `checkpoint`; empty when the bytes verify."""
    return hash_problems(
        sha256, size, sha256_prefix=checkpoint.sha256_prefix, sha256=checkpoint.sha256, size=checkpoint.size
    )


def sidecar_vouches(paths: CachePaths, checkpoint: Checkpoint) -> bool:
    """The sidecar shortcut (`fetch` and look-ups only, never a run): the file's size and mtime are those recorded
    when it verified. An in-place edit that keeps both is not noticed; store.verified_for_run hashes instead."""
    recorded = read_record(paths.final, paths.sidecar)
    return recorded is not None and not problems(*recorded, checkpoint)


def write_sidecar(paths: CachePaths, sha256: str, *, source: str) -> None:
    try:
        write_record(paths.final, paths.sidecar, sha256, source=source)
    except OSError as exc:  # the file is verified either way; without a sidecar the next look-up re-hashes it
        log.warning("could not write %s (%s); the next look-up will hash the file again", paths.sidecar, exc)


def discard(*files: Path) -> None:
    """Remove files the harness wrote (partial downloads, staged copies, sidecars); never a file at `final`."""
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", f, exc)


def set_aside(paths: CachePaths, sha256: str) -> Path | None:
    """Move the file at `paths.final`, which did not verify, out of the checkpoint's name (it may be the user's own
    download: it is renamed, never deleted) and drop its sidecar. The new path, or None when it cannot be moved
    (e.g. a read-only cache): it then stays where it is and is still never used."""
    target = paths.set_aside_as(sha256)
    try:
        os.replace(paths.final, target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("could not move %s, which does not verify, to %s: %s", paths.final, target, exc)
        return None
    discard(paths.sidecar)
    log.warning("%s does not verify (sha256 %s); moved it to %s", paths.final, sha256, target)
    return target


def verify_file(checkpoint: Checkpoint, file: Path, *, source: str, delete: bool) -> str:
    """SHA-256 of `file` if it verifies; else delete it (only when the harness wrote it: `delete`) and raise
    ChecksumMismatchError naming both hashes."""
    actual, size = file_sha256(file), file.stat().st_size
    if found := problems(actual, size, checkpoint):
        if delete:
            discard(file)
        raise ChecksumMismatchError(
            f"{source} does not verify: {'; '.join(found)}"
            + (" (the bytes were deleted)" if delete else "")
            + f"\nRetry with `python -m harness fetch --force`; if it persists, the source serves other bytes "
            f"than {checkpoint.filename} names: report it (expected sha256 prefix {checkpoint.sha256_prefix}).",
            expected=checkpoint.sha256 or checkpoint.sha256_prefix,
            actual=actual,
            path=None if delete else str(file),
        )
    return actual


def publish(paths: CachePaths, staged: Path, sha256: str, *, source: str) -> None:
    """Move a verified file into place atomically and record its sidecar."""
    os.replace(staged, paths.final)
    write_sidecar(paths, sha256, source=source)


# -- the per-file lock ------------------------------------------------------------------------------------------


def locked(lock_path: Path, *, required: bool = True) -> AbstractContextManager[None]:
    """Exclusive lock on `lock_path` (harness/locks.py) while a process fetches this file. When the lock file cannot
    be created: DownloadError, or no lock at all if not `required`."""

    def unwritable(exc: OSError) -> DownloadError:
        return DownloadError(
            f"cannot create the lock file {lock_path}: {exc}. Make the cache writable or set {settings.CACHE} to a "
            "writable folder."
        )

    waiting = f"waiting for another process that is fetching the same file (lock: {lock_path})"
    return locks.exclusive(lock_path, waiting=waiting, unwritable=unwritable if required else None)
