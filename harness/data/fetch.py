"""`data fetch`: lay a dataset out in the reference layout from its registry sources, verified and resumable.

Per source whose targets are not all laid out yet: find its file (already downloaded or hand-placed under
`downloads/`, else from its URLs and mirrors: harness.data.download), verify it against the registry's documented
sha256/size or, failing those, the hash the data lock pinned on the first fetch (first use pins it), then extract
the missing members atomically (harness.data.extract). Sources without a direct download are collected as manual
steps; everything else is still fetched, so one run leaves only the manual steps to do. A source that cannot be
got (offline, a failed download, a hand-placed file that does not verify) does not stop the others either: the
outcome lists every one (`failed`), so the user learns about all of them at once.

One fetch per data root at a time (an exclusive lock on `downloads/.fetch.lock`); what interrupted extractions left
in `.staging/` is removed first; a `.part` download is resumed. Nothing the user placed is deleted or replaced: a
hand-placed file that does not verify is named, with what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import locks
from harness.checkpoints.hashing import file_sha256
from harness.checkpoints.store import is_offline
from harness.data import extract, lock
from harness.data.download import Expected, fetch_hub, fetch_url
from harness.data.sources import DOWNLOADS, download_path, locations, manual_step, missing_targets
from harness.errors import DataError, DownloadError, OfflineError, TermsNotAcceptedError
from zoo.schema import Dataset, DataSource

log = logging.getLogger(__name__)


@dataclass
class FetchOutcome:
    dataset: str
    laid_out: list[str] = field(default_factory=list)  # targets this run laid out
    present: list[str] = field(default_factory=list)  # targets that were there already
    manual: list[str] = field(default_factory=list)  # steps left to the user
    failed: list[str] = field(default_factory=list)  # one message per source that could not be got
    offline: bool = False  # some source failed for want of the network (offline mode or unreachable)

    @property
    def complete(self) -> bool:
        return not self.manual and not self.failed


@contextmanager
def data_root_locked(root: Path) -> Iterator[None]:
    """Exclusive lock of the data root for a fetch (waits for another fetch of the same root): harness/locks.py."""

    def unwritable(exc: OSError) -> DataError:
        return DataError(f"cannot write under the data root {root} ({exc}); pass a writable --data-root")

    folder = root / DOWNLOADS
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(exc) from exc
    with locks.exclusive(
        folder / ".fetch.lock", waiting=f"waiting for another `data fetch` of {root}", unwritable=unwritable
    ):
        yield


def fetch_dataset(
    dataset: Dataset,
    root: Path,
    *,
    accept_terms: bool = False,
    offline: bool | None = None,
    prefer_mirror: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> FetchOutcome:
    """Lay out every source of `dataset` under `root` that is not there yet; see the module docstring."""
    outcome = FetchOutcome(dataset.key)
    todo = [(s, missing_targets(root, s)) for s in dataset.sources]
    for s, missing in todo:
        outcome.present += [m.target for m in s.members if m not in missing]
    todo = [(s, missing) for s, missing in todo if missing]
    if not todo:
        return outcome
    gated = [s for s, _ in todo if s.requires_acceptance]
    if gated and not accept_terms:
        raise TermsNotAcceptedError(
            f"{dataset.name} ({dataset.key}) has terms of use that must be accepted before it is fetched:\n"
            f"  {gated[0].terms}\nNothing was downloaded. If you accept them, run the command again with "
            "--accept-terms."
        )
    offline = is_offline(offline or None)
    with data_root_locked(root):
        extract.clear_staging(root)
        for source, missing in todo:
            try:
                file = _obtain(dataset, source, root, offline=offline, prefer_mirror=prefer_mirror, progress=progress)
            except (DownloadError, DataError) as exc:  # the next sources are still attempted (module docstring)
                outcome.failed.append(str(exc))
                outcome.offline |= isinstance(exc, OfflineError)
                continue
            if file is None:
                outcome.manual.append(manual_step(root, dataset, source))
                continue
            if source.format != "file":
                say(f"{dataset.key} {source.name}: extracting {len(missing)} member(s) of {file.name}")
                extract.extract(file, source.format, missing, root, progress=progress)
            outcome.laid_out += [m.target for m in missing]
    return outcome


def _expected(dataset: Dataset, source: DataSource, root: Path) -> Expected:
    if source.sha256 is not None:
        return Expected(sha256=source.sha256, size=source.size)
    entry = lock.dataset_lock(root, dataset.key) or {}
    if source.format == "file":
        pin = entry.get("files", {}).get(source.members[0].target)
    else:
        pin = entry.get("archives", {}).get(source.name)
    if pin:
        return Expected(sha256=pin.get("sha256"), size=source.size or pin.get("size"), pinned=True)
    return Expected(size=source.size)


def _obtain(
    dataset: Dataset, source: DataSource, root: Path, *, offline: bool, prefer_mirror: bool, progress: bool
) -> Path | None:
    """The verified file of `source` (downloaded if needed, its hash pinned on first use), or None when it must be
    placed by hand and is not there yet."""
    dest = download_path(root, dataset, source)
    expected = _expected(dataset, source, root)
    if dest.is_file():
        sha, size = file_sha256(dest), dest.stat().st_size
        if problems := expected.problems(sha, size):
            raise DataError(
                f"{dest} does not verify: {'; '.join(problems)}. It was left as it is: delete it (or move it aside) "
                "to fetch it again, or place the exact file the source names there"
                + ("; after an intended change, `data check --repin` re-pins the data" if expected.pinned else "")
            )
        _pin(dataset, source, root, sha, size, label=f"{dest.name} (placed or kept)")
        return dest
    places = locations(dataset, source, prefer_mirror=prefer_mirror)
    if not places:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempts: list[tuple[str, DownloadError]] = []
    for place in places:
        try:
            if place.startswith("hf://"):
                sha = fetch_hub(place, dest, expected, offline=offline, progress=progress)
            elif offline:
                raise OfflineError(f"offline mode is on: not downloading {place}")
            else:
                sha = fetch_url(place, dest, expected, progress=progress)
        except DownloadError as exc:
            log.info("%s: %s", place, exc)
            attempts.append((place, exc))
            continue
        _pin(dataset, source, root, sha, dest.stat().st_size, label=place)
        return dest
    raise _all_failed(dataset, source, dest, attempts)


def _pin(dataset: Dataset, source: DataSource, root: Path, sha: str, size: int, *, label: str) -> None:
    """First verified use pins the file's hash in the data lock (a registry-documented hash needs no pin)."""
    record = {"sha256": sha, "size": size, "source": label}
    if source.format == "file":
        lock.update_dataset(root, dataset.key, files={source.members[0].target: record})
    else:
        lock.update_dataset(root, dataset.key, archives={source.name: {"file": source.filename, **record}})


def _all_failed(dataset: Dataset, source: DataSource, dest: Path, attempts: list) -> DownloadError:
    lines = "\n".join(f"  - {str(exc).splitlines()[0]}" for _, exc in attempts)
    cls = OfflineError if all(isinstance(e, OfflineError) for _, e in attempts) else DownloadError
    first = source.urls[0] if source.urls else attempts[0][0]
    return cls(
        f"could not fetch {dataset.key} {source.name} ({source.filename}) from any of its {len(attempts)} "
        f"location(s); nothing was published:\n{lines}\n"
        f"To install it by hand, download {first} and place it at {dest}; the next `data fetch` verifies and "
        "lays it out."
    )  # what to run next (online again, the exact command) is said once for all sources: harness/commands/data.py
