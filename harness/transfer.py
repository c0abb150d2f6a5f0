"""One resumable HTTP transfer, shared by the checkpoint store (harness/checkpoints/download.py) and the dataset fetcher
(harness/data/download.py): the request with its Range header, the answers mapped to the harness's errors, the
206/416 rules of a resume, and the bounded copy of the body into a `.part` file with a progress bar.

What each caller keeps: when a file counts as complete (a checkpoint may have no stated length; a dataset artefact
must match its announced one), how many times to resume, and how to verify and publish the bytes.
Plain urllib: no dependency, and the store's tests serve faults from a local http.server.

A `.part` may remember the validator of the answer it came from (`<name>.part.json`: ETag, Last-Modified; the
dataset fetcher writes it): a resume then sends it as If-Range (RFC 9110 §13.1.5), so a server whose file changed
answers with the whole new file, and an answer with another validator tells the caller to start from zero rather
than append new bytes to old ones.
"""

from __future__ import annotations

import http.client
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from harness.errors import DownloadError, OfflineError

#: Seconds a connect or a read may block before the attempt counts as failed.
TIMEOUT_S = 30.0
#: How many times one fetch resumes a transfer that was cut off before giving up (progress is kept in `.part`).
MAX_RESUMES = 3
CHUNK_SIZE = 1 << 20
USER_AGENT = "hrnet-zoo (python-urllib)"

log = logging.getLogger(__name__)


def open_range(
    url: str,
    *,
    start: int,
    status_hint: Callable[[int], str] = lambda code: "",
    unreachable: Callable[[str], OfflineError] = OfflineError,
    retry_hint: str = "",
    if_range: str | None = None,
) -> http.client.HTTPResponse | None:
    """GET `url`, from byte `start` when > 0 (a Range request). None when the server answers a resume with 416
    (RFC 9110 §15.5.17: nothing past `start`: `.part` holds at least the whole file, or another, longer one).
    `if_range`: the validator of the bytes kept, sent with the Range request (a changed file comes whole).

    An HTTP error status raises DownloadError (`status_hint(code)` appended); a network that cannot be reached (DNS,
    refused, connect timeout) raises `unreachable(first line)`; a connection without a valid answer, DownloadError
    (`retry_hint` appended)."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
        if if_range:
            headers["If-Range"] = if_range
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and start:
            return None
        raise DownloadError(f"HTTP {exc.code} {exc.reason} from {url}" + status_hint(exc.code)) from exc
    except urllib.error.URLError as exc:  # DNS failure, connection refused, unreachable network, connect timeout
        raise unreachable(f"the network is unreachable ({exc.reason}): {url}") from exc
    except (OSError, http.client.HTTPException) as exc:  # connected, but no valid answer
        raise DownloadError(f"no valid HTTP answer from {url}: {exc!r}{retry_hint}") from exc


def range_start(response: http.client.HTTPResponse) -> int | None:
    """First byte of a 206 answer, from `Content-Range: bytes START-END/TOTAL`; None for any other answer (the
    server ignored the Range request and sends the whole file)."""
    if response.status != 206:
        return None
    unit, _, rest = response.headers.get("Content-Range", "").partition(" ")
    first = rest.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def body_length(response: http.client.HTTPResponse) -> int | None:
    """The Content-Length of the answer (the bytes still to come), None when the server does not state it."""
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def copy_body(
    response: http.client.HTTPResponse,
    part: Path,
    *,
    url: str,
    offset: int,
    total: int | None,
    progress: bool,
    desc: str,
    bound: tuple[int, Callable[[], DownloadError]] | None = None,
) -> tuple[int, bool]:
    """Copy the body into `part`: appended after its first `offset` bytes, or from zero when `offset` is 0.
    Returns (bytes received, whether the transfer was cut off; logged, what arrived stays for a resume).
    `bound` = (limit, error): `part` never grows past `limit` bytes; the bytes are deleted and `error()` raised."""
    received = 0
    with part.open("ab" if offset else "wb") as f, byte_bar(desc, total, initial=offset, enabled=progress) as bar:
        try:
            while chunk := response.read(CHUNK_SIZE):
                if bound is not None and offset + received + len(chunk) > bound[0]:
                    f.close()
                    _discard(part)
                    raise bound[1]()
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, DownloadError):
                raise
            log.warning("transfer of %s cut off after %d bytes: %r", url, offset + received, exc)
            return received, True
    return received, False


def _discard(part: Path) -> None:
    try:
        part.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", part, exc)
    discard_validators(part)


# -- validators of a kept `.part` ---------------------------------------------------------------------------------


def validators(response: http.client.HTTPResponse) -> dict[str, str]:
    """The answer's ETag and Last-Modified (those it has)."""
    out = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    return {k: v for k, v in out.items() if v}


def if_range_value(kept: dict[str, str]) -> str | None:
    """What to send as If-Range: a strong ETag, else the Last-Modified date (a weak ETag may not be used)."""
    etag = kept.get("etag", "")
    return etag if etag and not etag.startswith("W/") else kept.get("last_modified")


def _validators_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def read_validators(part: Path) -> dict[str, str]:
    """The validators recorded with `part` ({} when none: a server without them, or an older `.part`)."""
    try:
        data = json.loads(_validators_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (
        {k: v for k, v in data.items() if k in ("etag", "last_modified") and isinstance(v, str)}
        if isinstance(data, dict)
        else {}
    )


def write_validators(part: Path, values: dict[str, str]) -> None:
    path = _validators_path(part)
    try:
        if values:
            path.write_text(json.dumps(values) + "\n", encoding="utf-8")
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # only a resume's safety check is lost: the bytes are verified all the same
        log.warning("could not record the validators of %s: %s", part, exc)


def discard_validators(part: Path) -> None:
    try:
        _validators_path(part).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", _validators_path(part), exc)


def validator_changed(kept: dict[str, str], now: dict[str, str]) -> bool:
    """True when an answer's validators show another file than the one the kept bytes came from."""
    return any(kept.get(k) and now.get(k) and kept[k] != now[k] for k in ("etag", "last_modified"))


def byte_bar(desc: str, total: int | None, *, initial: int = 0, enabled: bool) -> tqdm:
    """A progress bar in bytes on stderr, shown only when stderr is a terminal (downloads here, extraction in
    harness/data/extract.py)."""
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
    )
