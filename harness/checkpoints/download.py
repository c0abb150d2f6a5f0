"""The checkpoint store's download from a checkpoint's primary URL: one HTTP GET into `<name>.part`, resumed with a
Range request when the transfer is cut off (up to MAX_RESUMES times), then verified and published by the store's own
helpers (harness/checkpoints/store.py describes the cache, its verification and its errors).
"""

from __future__ import annotations

import http.client
import logging
import sys
import urllib.error
import urllib.request

from tqdm.auto import tqdm

from harness.checkpoints.store import (
    ChecksumMismatchError,
    _check,
    _manual_hint,
    _offline_error,
    _offline_reason,
    _Paths,
    _publish,
)
from harness.errors import DownloadError
from zoo.schema import Checkpoint

#: Seconds a connect or a read may block before the attempt counts as failed.
TIMEOUT_S = 30.0
#: How many times one fetch resumes a transfer that was cut off before giving up (progress is kept in `.part`).
MAX_RESUMES = 3
CHUNK_SIZE = 1 << 20
USER_AGENT = "hrnet-zoo (python-urllib)"

log = logging.getLogger(__name__)


class _RangeNotSatisfiableError(Exception):
    """HTTP 416 to a resume: `.part` already holds at least the whole file."""


def from_url(checkpoint: Checkpoint, paths: _Paths, *, offline: bool, progress: bool) -> None:
    if offline:
        raise _offline_error(checkpoint, paths, f"{_offline_reason()}: not downloading {checkpoint.url}")
    resumes, resumed, restarted = 0, False, False
    while True:
        start = paths.part.stat().st_size if paths.part.exists() else 0
        resumed = resumed or start > 0
        try:
            complete = _get(checkpoint, paths, start=start, progress=progress)
        except _RangeNotSatisfiableError:
            complete = True  # RFC 9110 §15.5.17: nothing past `start`; verify what .part holds
        if not complete:
            resumes += 1
            if resumes > MAX_RESUMES:
                raise DownloadError(
                    f"the transfer of {checkpoint.url} was cut off {resumes} times; "
                    f"{paths.part.stat().st_size} bytes are kept in {paths.part}\n"
                    "Run the same command again to resume, or check the network."
                )
            continue
        try:
            sha = _check(checkpoint, paths.part, source=f"the download of {checkpoint.url}", delete=True)
        except ChecksumMismatchError:
            if resumed and not restarted:
                # The kept bytes may come from an earlier, different transfer: one fresh start before giving up.
                log.warning("resumed download of %s does not verify; downloading it again from zero", checkpoint.url)
                restarted = True
                continue
            raise
        _publish(paths, paths.part, sha, source=checkpoint.url)
        return


def _get(checkpoint: Checkpoint, paths: _Paths, *, start: int, progress: bool) -> bool:
    """One GET into `paths.part`, from byte `start` when > 0. True when the server sent the whole (rest of the)
    body, False when the transfer was cut off (what arrived is kept for a resume)."""
    url = checkpoint.url
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and start:
            raise _RangeNotSatisfiableError from None
        raise DownloadError(
            f"HTTP {exc.code} {exc.reason} from {url}\n"
            + ("The server failed; retry later. " if exc.code >= 500 else "Check checkpoint.url in zoo.yaml. ")
            + _manual_hint(checkpoint, paths)
        ) from exc
    except urllib.error.URLError as exc:  # DNS failure, connection refused, unreachable network, connect timeout
        raise _offline_error(checkpoint, paths, f"the network is unreachable ({exc.reason}): {url}") from exc
    except (OSError, http.client.HTTPException) as exc:  # connected, but no valid answer
        raise DownloadError(f"no valid HTTP answer from {url}: {exc!r}\nRetry later.") from exc
    with response:
        offset = start if start and _range_start(response) == start else 0  # otherwise Range was ignored
        if start and not offset:
            log.warning("%s ignored the Range request; downloading from zero", url)
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = offset + remaining if remaining is not None else None
        received = 0
        with paths.part.open("ab" if offset else "wb") as f, _bar(checkpoint, total, offset, progress) as bar:
            try:
                while chunk := response.read(CHUNK_SIZE):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                log.warning("transfer of %s cut off after %d bytes: %r", url, offset + received, exc)
                return False
    if remaining is not None and received < remaining:
        log.warning("transfer of %s cut off after %d of %d bytes", url, offset + received, total)
        return False
    return True


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """First byte of a 206 answer, from `Content-Range: bytes START-END/TOTAL`; None for any other answer."""
    if response.status != 206:
        return None
    value = response.headers.get("Content-Range", "")
    unit, _, rest = value.partition(" ")
    first = rest.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def _bar(checkpoint: Checkpoint, total: int | None, initial: int, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=checkpoint.filename,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
    )
