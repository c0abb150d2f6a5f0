"""Download one dataset artefact to a path, resumably and verified: what the checkpoint store guarantees, for data.

One HTTP GET streams into `<dest>.part`; a cut-off transfer resumes with a Range request (up to MAX_RESUMES times per
attempt, and across runs: the `.part` stays, with the validators of the answer it came from, sent as If-Range); a
resume the server refuses (416) or an answer with another validator (the file changed) discards the `.part` and
starts from zero; an HTML answer (a login or error page), an HTTP error, a wrong size or a wrong hash publishes
nothing (the bytes are deleted), and only verified bytes are renamed to `dest` (os.replace). Every transfer is
bounded: by the size the registry (or the data lock) states, else $HRNET_ZOO_MAX_DOWNLOAD_MB, as checkpoints are; a
Hub mirror's size, as the Hub states it, is checked against the same bound before huggingface_hub downloads it.
Sources are tried in order (the URLs, the registry's mirrors, $HRNET_ZOO_DATA_MIRROR); a Hub mirror goes through
huggingface_hub's own download and cache (repo_type "dataset"). Offline (`--offline`, HRNET_ZOO_OFFLINE or
HF_HUB_OFFLINE): no network; the error names every URL and the exact path where a hand-downloaded copy goes.

Why not pooch (the fetcher of SciPy and scikit-image), weighed for this: its hash registry, `known_hash=None` and
archive processors are what this needs, but its HTTPDownloader opens the output with "w+b" and streams from byte 0
(a cut-off 800 MB val2017.zip starts again: no resume), it has no offline switch that names where a manual copy goes,
its Untar/Unzip processors extract in place into `<archive>.untar` (no atomic rename, no free-space check, tar's data
filter only on 3.12+, zip members unchecked), and it brings requests. So we keep the store's proven transfer
(urllib + Range: harness/transfer.py, shared with harness.checkpoints.download) and our own extraction
(harness.data.extract).
Why not the store's function itself: it is typed on `Checkpoint` and its cache layout (file name = URL's last part,
sha256 prefix in the name); this takes a URL, a destination and an expected hash.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness import transfer
from harness.checkpoints.cache import max_download_bytes
from harness.checkpoints.hashing import file_sha256
from harness.data.extract import check_space
from harness.data.sources import repin_command
from harness.errors import DownloadError, OfflineError
from zoo import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expected:
    """What the bytes must be: a documented sha256 (registry) or one pinned by the data lock, and a size."""

    sha256: str | None = None
    size: int | None = None
    pinned: bool = False  # the sha256 comes from the data lock, not the registry
    dataset: str = ""  # whose pins (named in the command that drops them)

    def problems(self, sha256: str, size: int) -> list[str]:
        out = []
        if self.size is not None and size != self.size:
            out.append(f"size {size} bytes is not {self.size}")
        if self.sha256 is not None and sha256 != self.sha256:
            what = "pinned in the data lock" if self.pinned else "documented in zoo.yaml"
            out.append(f"sha256 {sha256} is not {self.sha256} ({what})")
        return out


class _CutError(Exception):
    """The transfer stopped before the announced length; what arrived stays in `.part`."""


class _StartOverError(Exception):
    """The kept `.part` cannot be resumed (416, or the file changed on the server): it was discarded."""


def download_bound(expected: Expected) -> int:
    """The most bytes a download may write: the registry's (or the lock's) size when stated, else
    $HRNET_ZOO_MAX_DOWNLOAD_MB (the checkpoint store's bound, harness.checkpoints.cache)."""
    return expected.size if expected.size is not None else max_download_bytes()


def fetch_url(url: str, dest: Path, expected: Expected, *, progress: bool) -> str:
    """Download `url` to `dest` (resuming `<dest>.part`), verify, publish; returns the sha256."""
    part = dest.with_name(dest.name + ".part")
    limit = download_bound(expected)
    resumes, restarted = 0, False
    while True:
        start = part.stat().st_size if part.exists() else 0
        try:
            _get(url, part, start=start, progress=progress, expected=expected, limit=limit)
        except _StartOverError:
            if restarted:
                raise DownloadError(f"{url}: the server refused to resume twice; nothing was published") from None
            restarted = True
            continue
        except _CutError:
            resumes += 1
            if resumes > transfer.MAX_RESUMES:
                raise DownloadError(
                    f"the transfer of {url} was cut off {resumes} times; {part.stat().st_size} bytes are kept in "
                    f"{part}. Run the same command again to resume, or check the network."
                ) from None
            continue
        sha, size = file_sha256(part), part.stat().st_size
        if problems := expected.problems(sha, size):
            repin = f" (or, after an intended change, `{repin_command(expected.dataset)}` drops the pins)"
            _discard(part)
            if start and not restarted:  # kept bytes may come from an older, different file: one fresh start
                log.warning("resumed download of %s does not verify; downloading it again from zero", url)
                restarted = True
                continue
            raise DownloadError(
                f"the download of {url} does not verify: {'; '.join(problems)}; the bytes were deleted, nothing was "
                f"published. Retry; if it persists, the server has other bytes than the ones pinned: check the source"
                + (repin if expected.pinned else "")
            )
        transfer.discard_validators(part)
        os.replace(part, dest)
        return sha


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    transfer.discard_validators(part)


def _get(url: str, part: Path, *, start: int, progress: bool, expected: Expected, limit: int) -> None:
    """One GET into `part` (from byte `start` when > 0, If-Range with the kept validator); _CutError when it stops
    before the announced length, _StartOverError when the kept bytes cannot be resumed (a 416 answer, or another
    file behind the URL: they are discarded). Never writes more than `limit` bytes."""
    kept = transfer.read_validators(part) if start else {}
    response = transfer.open_range(url, start=start, if_range=transfer.if_range_value(kept))
    if response is None:
        log.warning("%s refused to resume %s (416); downloading it again from zero", url, part)
        _discard(part)
        raise _StartOverError
    with response:
        ctype = response.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
            raise DownloadError(
                f"{url} answered with an HTML page ({ctype}), not the file: a login, consent or error page. "
                "Open the URL in a browser, or follow the source's manual step."
            )
        offset = start if start and transfer.range_start(response) == start else 0
        now = transfer.validators(response)
        if offset and transfer.validator_changed(kept, now):
            log.warning("%s changed on the server since %s was started; downloading it again from zero", url, part)
            _discard(part)
            raise _StartOverError
        remaining = transfer.body_length(response)
        total = offset + remaining if remaining is not None else None
        if total is not None and expected.size is not None and total != expected.size:
            raise DownloadError(f"{url} announces {total} bytes, expected {expected.size}; nothing was downloaded")
        if total is not None and total > limit:
            raise _too_large(url, f"announces {total} bytes", limit, expected, kept="nothing was downloaded")
        if remaining is not None:
            check_space(part.parent, remaining, what=f"downloading {url}")
        if not offset:
            transfer.write_validators(part, now)

        def sent_too_much() -> DownloadError:  # copy_body has deleted the bytes
            kept = "the bytes were deleted, nothing was published"
            return _too_large(url, "sent more bytes", limit, expected, kept=kept)

        received, cut = transfer.copy_body(
            response, part, url=url, offset=offset, total=total, progress=progress,
            desc=part.name.removesuffix(".part"), bound=(limit, sent_too_much),
        )  # fmt: skip
    if cut or (remaining is not None and received < remaining):
        raise _CutError


def _too_large(url: str, what: str, limit: int, expected: Expected, *, kept: str) -> DownloadError:
    if expected.size is not None:
        bound = f"the {expected.size} bytes stated for it ({'data lock' if expected.pinned else 'zoo.yaml'})"
        advice = "Check the source's URL and size."
    else:
        bound = f"the {limit} bytes allowed for a download of unstated size (${settings.MAX_DOWNLOAD_MB})"
        advice = f"If the file really is that large, set {settings.MAX_DOWNLOAD_MB} to its size in MiB; else check it."
    return DownloadError(f"{url} {what}, more than {bound}; {kept}. {advice}")


def fetch_hub(mirror: str, dest: Path, expected: Expected, *, offline: bool, progress: bool) -> str:
    """Fill `dest` from a `hf://datasets/OWNER/REPO[@REV]/PATH` mirror through huggingface_hub, verified."""
    import shutil

    from harness.checkpoints.hub import _hub_location  # endpoint and cache from the environment, read now
    from zoo.registry.dataset_reader import hub_parts

    repo_id, revision, filename = hub_parts(mirror)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:
        raise DownloadError(f"{mirror}: huggingface_hub is not installed (pip install 'hrnet-zoo[harness]')") from exc
    location = _hub_location()
    reachable = not offline and _hub_size_within_bound(mirror, repo_id, revision, filename, expected, location)
    try:
        local = hf_hub_download(
            repo_id,
            filename,
            repo_type="dataset",
            revision=revision,
            local_files_only=not reachable,  # offline, or the Hub did not answer: its cache only, no transfer
            **location,
        )
    except LocalEntryNotFoundError as exc:
        if isinstance(exc.__cause__, HfHubHTTPError):
            raise DownloadError(f"{mirror}: {str(exc.__cause__).splitlines()[0]}") from exc
        raise OfflineError(f"{mirror}: not in the Hub cache and the Hub is not reachable (or offline)") from exc
    except HfHubHTTPError as exc:
        raise DownloadError(f"{mirror}: {str(exc).splitlines()[0]}") from exc
    except (OSError, ValueError) as exc:
        raise DownloadError(f"{mirror}: {exc}") from exc
    blob = Path(local).resolve()
    sha, size = file_sha256(blob), blob.stat().st_size
    if problems := expected.problems(sha, size):  # the Hub cache is not ours: leave the file, never use it
        raise DownloadError(f"the Hub file {mirror} does not verify: {'; '.join(problems)}; it was not used")
    staged = dest.with_name(f"{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            os.link(blob, staged)
        except OSError:
            shutil.copyfile(blob, staged)
        os.replace(staged, dest)
    finally:
        staged.unlink(missing_ok=True)
    return sha


def _hub_size_within_bound(
    mirror: str, repo_id: str, revision: str | None, filename: str, expected: Expected, location: dict
) -> bool:
    """Ask the Hub for the file's size and refuse it before any byte is downloaded when it exceeds the bound (or
    differs from the stated size); huggingface_hub then does the transfer. False when the Hub did not answer."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    url = hf_hub_url(repo_id, filename, repo_type="dataset", revision=revision, endpoint=location.get("endpoint"))
    try:
        size = get_hf_file_metadata(url).size
    except HfHubHTTPError as exc:
        raise DownloadError(f"{mirror}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # connection errors come from whichever HTTP client huggingface_hub uses
        log.info("%s: no answer from the Hub (%r); only its cache is used", mirror, exc)
        return False
    limit = download_bound(expected)
    if size is None:
        raise DownloadError(f"{mirror}: the Hub states no size for the file, so no bound can be checked; nothing "
                            "was downloaded")  # fmt: skip
    if expected.size is not None and size != expected.size:
        raise DownloadError(f"{mirror}: the Hub states {size} bytes, expected {expected.size}; nothing was downloaded")
    if size > limit:
        raise _too_large(mirror, f"is {size} bytes as the Hub states", limit, expected, kept="nothing was downloaded")
    return True
