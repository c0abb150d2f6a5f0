"""The checkpoint store: a local cache of verified checkpoint files, filled from the entry's URL or its Hub mirrors,
and the check a run makes of the file it is about to load.

The cache's layout and what "verified" means: harness/checkpoints/cache.py. Downloads are staged (`.part` or a
unique temp file), checked against Content-Length and the registry's hash, and only then renamed into place
(`os.replace`); bytes the harness downloaded that do not verify are deleted. A file found under the checkpoint's
name that does not verify (e.g. placed there by hand) is never deleted: a look-up leaves it and returns None,
`fetch` renames it to `<name>.unverified-<8hex>` before downloading.

Two levels of trust:
- `cached_path()` and `fetch()` trust the sidecar when the file's size and mtime (ns) are exactly those it recorded
  and its hash verifies against the record; that costs one stat(). In doubt (no sidecar, e.g. a manually placed file
  or a read-only shared cache; unreadable sidecar; size or mtime changed; `rehash=True`) the file is hashed again: if
  it verifies, a fresh sidecar is written when the cache is writable. An in-place edit that keeps size and mtime is
  not noticed here.
- `verified_for_run()` never trusts the sidecar: a run hashes the file itself before the first forward pass and
  stops (or fetches again, once) when the hash is not the published one (issue 13.1).

Offline: `offline=True`, or `HRNET_ZOO_OFFLINE` / `HF_HUB_OFFLINE` set to 1/true/yes/on, or a network that cannot be
reached (DNS failure, connection refused) raise `OfflineError` naming the URL and the exact path where a manually
downloaded file can be placed. Hub mirrors are then consulted in the Hub's own cache only (`local_files_only`).

Sources are tried in order: our cache, torch.hub's checkpoint folder (harness/checkpoints/torch_hub.py: a file
MMPose / mmcv / torchvision downloaded there under the published name, verified, then hardlinked or copied into our
cache; offline too; not with `force`), the primary URL, then each `Checkpoint.mirrors` entry (mirrors first with
`prefer_mirror=True` or `HRNET_ZOO_PREFER_MIRROR=1`). When all downloads fail, one error lists every attempt.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.checkpoints import download, hub, torch_hub
from harness.checkpoints.cache import (
    OFFLINE_NEXT,
    CachePaths,
    discard,
    expected_path,
    is_offline,
    locked,
    manual_hint,
    problems,
    publish,
    set_aside,
    sidecar_vouches,
    verify_file,
    write_sidecar,
)
from harness.checkpoints.hashing import file_sha256
from harness.errors import CheckpointError, ChecksumMismatchError, DownloadError, OfflineError
from zoo import settings
from zoo.registry.schema import Checkpoint

__all__ = ["RunCheckpoint", "cached_path", "fetch", "verified_for_run"]

log = logging.getLogger(__name__)


# -- cache look-up ----------------------------------------------------------------------------------------------


def cached_path(checkpoint: Checkpoint, *, rehash: bool = False) -> Path | None:
    """The verified cached file of `checkpoint`, or None. Never returns a file whose hash does not verify, and never
    changes one (it may be the user's own): see the module docstring for when the sidecar is trusted."""
    paths = CachePaths(expected_path(checkpoint))
    if not rehash and sidecar_vouches(paths, checkpoint):
        return paths.final
    if not paths.final.exists():
        return None
    with locked(paths.lock, required=False):  # a read-only shared cache is still verified, without the lock
        return _verify_cached(paths, checkpoint, rehash=rehash)


def _verify_cached(paths: CachePaths, checkpoint: Checkpoint, *, rehash: bool) -> Path | None:
    """The file at `paths.final` if it verifies (hashing it unless the sidecar vouches), else None; the file is left
    as it is either way. Needs no write access: the sidecar is written only where it can be."""
    if not rehash and sidecar_vouches(paths, checkpoint):
        return paths.final
    try:
        size = paths.final.stat().st_size
        actual = file_sha256(paths.final)
    except FileNotFoundError:
        return None
    if found := problems(actual, size, checkpoint):
        log.warning("%s does not verify and is not used: %s", paths.final, "; ".join(found))
        discard(paths.sidecar)  # ours, and wrong: the next look-up must not trust it
        return None
    write_sidecar(paths, actual, source="re-hashed in cache")
    return paths.final


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
    verifies), and do not take torch.hub's copy. `prefer_mirror`: try Hub mirrors before the URL (None reads
    HRNET_ZOO_PREFER_MIRROR).

    A verified file in a read-only cache is returned without writing anything (no lock, no sidecar). A file under
    the name that does not verify is set aside (renamed, never deleted) before downloading.

    Raises OfflineError (not cached and no network; names URL and `expected_path`), ChecksumMismatchError (bytes do
    not verify), DownloadError (HTTP error, cut-off transfer, or several sources failed: one line per attempt).
    """
    paths = CachePaths(expected_path(checkpoint))
    if not force and sidecar_vouches(paths, checkpoint):  # the common case costs two stat()s and no lock
        return paths.final
    if not force and paths.final.exists() and (found := _verify_cached(paths, checkpoint, rehash=True)):
        return found  # hashed without the lock: works in a cache this process cannot write to
    try:
        paths.final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the checkpoint cache {paths.final.parent}: {exc}. "
            f"Set {settings.CACHE} to a writable folder."
        ) from exc
    offline = is_offline(offline)
    if prefer_mirror is None:
        prefer_mirror = settings.prefer_mirror()
    with locked(paths.lock):
        if force:
            discard(paths.part)
        if sidecar_vouches(paths, checkpoint):
            if not force:  # another process fetched it while this one waited
                return paths.final
        elif paths.final.exists():  # not vouched for: hash it; even --force never replaces a file it cannot vouch for
            actual = file_sha256(paths.final)
            if not problems(actual, paths.final.stat().st_size, checkpoint):
                write_sidecar(paths, actual, source="re-hashed in cache")
                if not force:
                    return paths.final
            elif set_aside(paths, actual) is None and paths.final.exists():
                raise _cannot_set_aside(checkpoint, paths, actual)
        if not force and torch_hub.reuse(checkpoint, paths):  # verified like a download; never a network request
            return paths.final
        return _fetch_locked(checkpoint, paths, offline=offline, progress=progress, prefer_mirror=prefer_mirror)


def _fetch_locked(
    checkpoint: Checkpoint, paths: CachePaths, *, offline: bool, progress: bool, prefer_mirror: bool
) -> Path:
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


def _cannot_set_aside(checkpoint: Checkpoint, paths: CachePaths, actual: str) -> ChecksumMismatchError:
    return ChecksumMismatchError(
        f"{paths.final} is not the published {checkpoint.filename} (sha256 {actual} does not start with "
        f"{checkpoint.sha256_prefix}) and cannot be moved aside to make room for a download.\n"
        f"Move or delete it yourself, or set {settings.CACHE} to a writable folder, then fetch again.",
        expected=checkpoint.sha256 or checkpoint.sha256_prefix,
        actual=actual,
        path=str(paths.final),
    )


_Source = Callable[..., None]


def _sources(checkpoint: Checkpoint, *, prefer_mirror: bool) -> list[tuple[str, _Source]]:
    primary = [(checkpoint.url, _from_repo_file if checkpoint.url.startswith("file:") else download.from_url)]
    mirrors = [(hub.label(m), hub.source(m)) for m in checkpoint.mirrors]
    return mirrors + primary if prefer_mirror else primary + mirrors


def _all_failed(checkpoint: Checkpoint, paths: CachePaths, attempts: list[tuple[str, DownloadError]]) -> DownloadError:
    if len(attempts) == 1:
        return attempts[0][1]
    # Each message's first line names its source and what went wrong; the rest is advice, given once below.
    lines = "\n".join(f"  - {str(exc).splitlines()[0]}" for _, exc in attempts)
    cls = OfflineError if all(isinstance(e, OfflineError) for _, e in attempts) else DownloadError
    return cls(
        f"could not fetch {checkpoint.filename} from any of its {len(attempts)} sources:\n{lines}\n"
        + manual_hint(checkpoint, paths)
        + (f" {OFFLINE_NEXT}" if cls is OfflineError else "")
    )


# -- a file shipped with the repository -------------------------------------------------------------------------


def repo_file(checkpoint: Checkpoint) -> Path:
    """The file a `file:REL/PATH` URL names, relative to the folder of the registry (zoo.yaml) in use."""
    from zoo.registry.load import registry_paths

    return registry_paths()[0].parent / urllib.parse.urlparse(checkpoint.url).path


def _from_repo_file(checkpoint: Checkpoint, paths: CachePaths, *, offline: bool, progress: bool) -> None:
    """Copy a shipped checkpoint into the cache through the same staging and verification as a download: works
    offline, and a shipped file that does not match its published hash is refused like a bad download."""
    source = repo_file(checkpoint)
    if not source.is_file():
        raise DownloadError(f"{checkpoint.url}: {source} does not exist; it ships with the repository (git checkout)")
    staged = paths.final.with_name(f"{paths.final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copyfile(source, staged)
        sha = verify_file(checkpoint, staged, source=f"the shipped file {source}", delete=True)
        publish(paths, staged, sha, source=checkpoint.url)
    finally:
        staged.unlink(missing_ok=True)


# -- the run's own check ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCheckpoint:
    """The checkpoint file a run loads, hashed by that run. `published`: True when its sha256 is the registry's
    (verified here, not taken from a sidecar); False for the user's own file, which has no published hash to compare
    with (a run of it is not a run of the published weights)."""

    path: Path
    sha256: str
    size: int
    published: bool


def verified_for_run(
    ref: Checkpoint | None, path: str | os.PathLike[str], *, offline: bool | None = None, progress: bool = False
) -> RunCheckpoint:
    """Hash `path` now (never the sidecar) and check it against `ref`, the registry's record of the published file.

    `ref` None: the user's own file (`--checkpoint`): it is only hashed, and `published` is False. Otherwise a
    mismatch raises ChecksumMismatchError naming the file and both hashes, before anything is evaluated; when `path`
    is the cache's file of `ref` and the network may be used (`offline`: None reads the environment), the damaged
    file is first set aside and the checkpoint fetched once more, then hashed again.
    Raises CheckpointError when `path` is not a readable file.
    """
    path = Path(path)
    sha256, size = _hash(path)
    if ref is None:
        log.info("%s is the user's own checkpoint (sha256 %s): not compared with a published hash", path, sha256)
        return RunCheckpoint(path, sha256, size, published=False)
    if not (found := problems(sha256, size, ref)):
        return RunCheckpoint(path, sha256, size, published=True)
    paths = CachePaths(expected_path(ref))
    what = f"{path} is not the published {ref.filename}: {'; '.join(found)}. Nothing was evaluated."
    if not _same_file(path, paths.final):
        raise ChecksumMismatchError(
            f"{what}\nUse the published file (`python -m harness fetch`), or pass your own weights as "
            "--checkpoint, which a run records as not the published ones.",
            expected=ref.sha256 or ref.sha256_prefix,
            actual=sha256,
            path=str(path),
        )
    moved = set_aside(paths, sha256)
    where = f"The damaged copy was moved to {moved}." if moved else f"It could not be moved aside ({settings.CACHE}?)."
    if moved is None or is_offline(offline):
        raise ChecksumMismatchError(
            f"{what}\nThe cached copy changed since it was verified (its size and date did not). {where} "
            "Run `python -m harness fetch` for this entry while online to download it again.",
            expected=ref.sha256 or ref.sha256_prefix,
            actual=sha256,
            path=str(moved or path),
        )
    log.warning("%s does not verify (%s); fetching it again", path, "; ".join(found))
    try:
        fetch(ref, offline=False, progress=progress)
    except DownloadError as exc:
        raise ChecksumMismatchError(
            f"{what}\n{where} Fetching it again failed: {str(exc).splitlines()[0]}",
            expected=ref.sha256 or ref.sha256_prefix,
            actual=sha256,
            path=str(moved),
        ) from exc
    sha256, size = _hash(paths.final)  # this run's own hash of what it will load, not fetch's word
    if found := problems(sha256, size, ref):  # pragma: no cover - fetch verified these bytes a moment ago
        raise ChecksumMismatchError(
            f"{paths.final} changed again right after it was fetched: {'; '.join(found)}. Nothing was evaluated.",
            expected=ref.sha256 or ref.sha256_prefix,
            actual=sha256,
            path=str(paths.final),
        )
    return RunCheckpoint(paths.final, sha256, size, published=True)


def _hash(path: Path) -> tuple[str, int]:
    try:
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} is not a file: check the path, or fetch it first")
        return file_sha256(path), path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
