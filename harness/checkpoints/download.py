"""The checkpoint store's download from a checkpoint's primary URL: one HTTP GET into `<name>.part`, resumed with a
Range request when the transfer is cut off (up to MAX_RESUMES times), then verified and published by the cache's
helpers (harness/checkpoints/cache.py describes the cache and its verification; store.py the policy).

How long the file is comes from the registry (`Checkpoint.size`) or the server (Content-Length). When neither says,
a transfer that ends early looks like a complete one: bytes that then do not verify are kept and the rest is asked
for with a Range request (a 416 answer means the file really is complete, and wrong). Such a download is bounded by
$HRNET_ZOO_MAX_DOWNLOAD_MB (cache.max_download_bytes), so a wrong URL cannot fill the disk.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from harness import transfer
from harness.checkpoints.cache import (
    CachePaths,
    manual_hint,
    max_download_bytes,
    offline_error,
    offline_reason,
    problems,
    publish,
    verify_file,
)
from harness.checkpoints.hashing import file_sha256
from harness.errors import ChecksumMismatchError, DownloadError
from zoo import settings
from zoo.registry.schema import Checkpoint

log = logging.getLogger(__name__)


class _Got(NamedTuple):
    """What one GET did. `complete`: True the whole (rest of the) body arrived, False the transfer was cut off,
    None the connection ended and nobody said how long the file is. `from_zero`: the server ignored a Range
    request and sent the whole file again."""

    complete: bool | None
    from_zero: bool


def from_url(checkpoint: Checkpoint, paths: CachePaths, *, offline: bool, progress: bool) -> None:
    if offline:
        raise offline_error(checkpoint, paths, f"{offline_reason()}: not downloading {checkpoint.url}")
    limit = checkpoint.size if checkpoint.size is not None else max_download_bytes()
    resumes, resumed, restarted = 0, False, False
    while True:
        start = paths.part.stat().st_size if paths.part.exists() else 0
        resumed = resumed or start > 0
        got = _get(checkpoint, paths, start=start, limit=limit, progress=progress)
        if got.complete is None:
            # No length known: the end may have been a cut. Verify; if that fails, ask for the rest (unless the
            # server just ignored a Range request: it sent the whole file then, so the verdict is final).
            if (sha := _verifies(checkpoint, paths)) is not None:
                publish(paths, paths.part, sha, source=checkpoint.url)
                return
            if not got.from_zero:
                log.warning("%s ended without a stated length and does not verify yet; asking for the rest",
                            checkpoint.url)  # fmt: skip
                got = _Got(False, got.from_zero)
            else:
                got = _Got(True, got.from_zero)
        if not got.complete:
            resumes += 1
            if resumes > transfer.MAX_RESUMES:
                raise DownloadError(
                    f"the transfer of {checkpoint.url} was cut off {resumes} times; "
                    f"{paths.part.stat().st_size} bytes are kept in {paths.part}\n"
                    "Run the same command again to resume, or check the network."
                )
            continue
        try:
            sha = verify_file(checkpoint, paths.part, source=f"the download of {checkpoint.url}", delete=True)
        except ChecksumMismatchError:
            if resumed and not restarted:
                # The kept bytes may come from an earlier, different transfer: one fresh start before giving up.
                log.warning("resumed download of %s does not verify; downloading it again from zero", checkpoint.url)
                restarted = True
                continue
            raise
        publish(paths, paths.part, sha, source=checkpoint.url)
        return


def _verifies(checkpoint: Checkpoint, paths: CachePaths) -> str | None:
    sha = file_sha256(paths.part)
    return None if problems(sha, paths.part.stat().st_size, checkpoint) else sha


def _get(checkpoint: Checkpoint, paths: CachePaths, *, start: int, limit: int, progress: bool) -> _Got:
    """One GET into `paths.part`, from byte `start` when > 0; what arrived is kept for a resume. Never writes more
    than `limit` bytes in all (the registry's size, else the configured maximum)."""
    url = checkpoint.url
    response = transfer.open_range(
        url,
        start=start,
        status_hint=lambda code: (
            "\n"
            + ("The server failed; retry later. " if code >= 500 else "Check checkpoint.url in zoo.yaml. ")
            + manual_hint(checkpoint, paths)
        ),
        unreachable=lambda what: offline_error(checkpoint, paths, what),
        retry_hint="\nRetry later.",
    )
    if response is None:  # 416 to a resume: nothing past `start`; verify what .part holds
        return _Got(True, False)
    with response:
        offset = start if start and transfer.range_start(response) == start else 0  # otherwise Range was ignored
        if start and not offset:
            log.warning("%s ignored the Range request; downloading from zero", url)
        remaining = transfer.body_length(response)
        total = offset + remaining if remaining is not None else checkpoint.size
        if total is not None and total > limit:
            raise _too_large(checkpoint, f"the server announces {total} bytes", limit, kept="nothing was downloaded")

        def sent_too_much() -> DownloadError:
            return _too_large(checkpoint, "the server sent more bytes", limit, kept="the bytes were deleted")

        received, cut = transfer.copy_body(
            response, paths.part, url=url, offset=offset, total=total, progress=progress, desc=checkpoint.filename,
            bound=(limit, sent_too_much),
        )  # fmt: skip
    from_zero = start > 0 and not offset
    if cut:
        return _Got(False, from_zero)
    if total is None:
        return _Got(None, from_zero)
    if offset + received < total:
        log.warning("transfer of %s cut off after %d of %d bytes", url, offset + received, total)
        return _Got(False, from_zero)
    return _Got(True, from_zero)


def _too_large(checkpoint: Checkpoint, what: str, limit: int, *, kept: str) -> DownloadError:
    if checkpoint.size is not None:
        bound = f"the registry's size of {checkpoint.filename} ({checkpoint.size} bytes)"
        advice = "Check checkpoint.url and checkpoint.size in zoo.yaml."
    else:
        bound = f"the {limit} bytes allowed for a download of unknown size (${settings.MAX_DOWNLOAD_MB})"
        advice = (
            f"If the file really is that large, set {settings.MAX_DOWNLOAD_MB} to its size in MiB; else check the URL."
        )
    return DownloadError(f"{checkpoint.url}: {what}, more than {bound}; {kept}.\n{advice}")
