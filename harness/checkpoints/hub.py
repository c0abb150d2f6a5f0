"""Hugging Face Hub mirrors of the checkpoint store (harness.checkpoints.store): `Checkpoint.mirrors` entries are
fetched with huggingface_hub's own `hf_hub_download` (its cache, its offline switch), then verified exactly like a
download and published into our cache; a Hub file that does not verify is never used or copied.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from harness.checkpoints.cache import CachePaths, offline_error, offline_reason, publish, verify_file
from harness.errors import DownloadError
from zoo.registry.schema import Checkpoint, HubMirror


def label(mirror: HubMirror) -> str:
    return f"hf://{mirror.repo_id}/{mirror.filename}" + (f"@{mirror.revision}" if mirror.revision else "")


def source(mirror: HubMirror) -> Callable[..., None]:
    """The store's fetch step for one mirror: fill `paths.final` from the Hub, verified (store._sources)."""

    def fetch_from_hub(checkpoint: Checkpoint, paths: CachePaths, *, offline: bool, progress: bool) -> None:
        _from_hub(checkpoint, mirror, paths, offline=offline, progress=progress)

    return fetch_from_hub


def _hub_location() -> dict[str, str]:
    """Endpoint and cache folder from HF_ENDPOINT / HF_HUB_CACHE / HF_HOME, read now: huggingface_hub reads them
    once at import, so a process that sets them later (tests, notebooks) would otherwise be ignored."""
    kwargs = {}
    if endpoint := os.environ.get("HF_ENDPOINT"):
        kwargs["endpoint"] = endpoint.rstrip("/")
    if hub_cache := os.environ.get("HF_HUB_CACHE"):
        kwargs["cache_dir"] = hub_cache
    elif hf_home := os.environ.get("HF_HOME"):
        kwargs["cache_dir"] = str(Path(hf_home).expanduser() / "hub")
    return kwargs


def _from_hub(checkpoint: Checkpoint, mirror: HubMirror, paths: CachePaths, *, offline: bool, progress: bool) -> None:
    name = label(mirror)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import FileMetadataError, HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:
        raise DownloadError(
            f"{name}: huggingface_hub is not installed. Install it with `pip install 'hrnet-zoo[harness]'`."
        ) from exc
    try:
        local = hf_hub_download(
            mirror.repo_id,
            mirror.filename,
            revision=mirror.revision,
            local_files_only=offline,
            tqdm_class=None if progress else _SilentTqdm,
            **_hub_location(),
        )
    except LocalEntryNotFoundError as exc:
        # huggingface_hub turns a failed HEAD into this; only a connection problem (or offline) means "offline".
        if isinstance(exc.__cause__, HfHubHTTPError):
            raise _hub_http_error(name, exc.__cause__) from exc
        if offline or not isinstance(exc.__cause__, FileMetadataError):
            reason = offline_reason() if offline else "the Hub is unreachable"
            raise offline_error(checkpoint, paths, f"{reason} and the Hub cache lacks {name}") from exc
        raise DownloadError(f"{name}: {exc.__cause__}") from exc
    except HfHubHTTPError as exc:
        raise _hub_http_error(name, exc) from exc
    except (OSError, ValueError) as exc:
        raise DownloadError(f"{name}: {exc}") from exc
    blob = Path(local).resolve()
    # The Hub cache is not ours: a file that does not verify is left there, but never used or copied.
    sha = verify_file(checkpoint, blob, source=f"the Hub file {name} ({blob})", delete=False)
    staged = paths.final.with_name(f"{paths.final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            os.link(blob, staged)  # same file system: share the bytes with the Hub cache
        except OSError:
            shutil.copyfile(blob, staged)
        publish(paths, staged, sha, source=name)
    finally:
        staged.unlink(missing_ok=True)


def _hub_http_error(label: str, exc: Exception) -> DownloadError:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", "?")
    return DownloadError(
        f"HTTP {status} from the Hub for {label}: {str(exc).splitlines()[0]}\n"
        "Check the mirror's repo_id, filename and revision in zoo.yaml."
    )


class _SilentTqdm(tqdm):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)
