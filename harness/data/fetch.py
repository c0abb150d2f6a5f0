"""`data fetch`: lay a dataset out in the reference layout from its registry sources, verified and resumable.

Per source whose targets are not all laid out yet: find its file (already downloaded or hand-placed under
`downloads/`, else from its URLs and mirrors: harness.data.download), verify it against the registry's documented
sha256/size or, failing those, the hash the data lock pinned, then extract the missing members atomically
(harness.data.extract). Sources without a direct download are collected as manual steps; everything else is still
fetched, so one run leaves only the manual steps to do. A source that cannot be got (offline, a failed download, a
hand-placed file that does not verify, an archive that cannot be extracted) does not stop the others either: the
outcome lists every one (`failed`), so the user learns about all of them at once.

Trust on first use, done right: an archive the lock does not pin yet is not pinned here. It is returned in
`FetchOutcome.archives` and pinned by the check that follows (harness.data.check, `archives=`), only when the layout
it produced passed; a download that cannot be extracted is deleted (a hand-placed file is named and kept), so a
bad archive never poisons the lock. `repin=True` drops the dataset's pins first (`data fetch DATASET --repin`).

One fetch or check per data root at a time (harness.data.sources.data_root_locked): the missing targets are found
again once the lock is held, so a fetch that waited for another finds the layout complete. What interrupted
extractions left in `.staging/` is removed first; a `.part` download is resumed. Nothing the user placed is deleted
or replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.checkpoints.cache import is_offline
from harness.checkpoints.hashing import file_sha256
from harness.data import extract, lock
from harness.data.download import Expected, fetch_hub, fetch_url
from harness.data.sources import (
    data_root_locked,
    download_path,
    locations,
    manual_step,
    missing_targets,
    repin_command,
)
from harness.errors import (
    BadArchiveError,
    DataError,
    DownloadError,
    OfflineError,
    TermsNotAcceptedError,
    UnsafeArchiveError,
)
from zoo.registry.schema import Dataset, DataSource

log = logging.getLogger(__name__)


@dataclass
class FetchOutcome:
    dataset: str
    laid_out: list[str] = field(default_factory=list)  # targets this run laid out
    present: list[str] = field(default_factory=list)  # targets that were there already
    manual: list[str] = field(default_factory=list)  # steps left to the user
    failed: list[str] = field(default_factory=list)  # one message per source that could not be got
    offline: bool = False  # some source failed for want of the network (offline mode or unreachable)
    #: Archives this run verified and extracted, to be pinned by the check of the layout (harness.data.check).
    archives: dict[str, lock.ArchiveRecord] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.manual and not self.failed


@dataclass(frozen=True)
class _Obtained:
    path: Path
    sha256: str
    size: int
    label: str  # where it came from
    downloaded: bool  # by this run (else placed by hand, or kept from an earlier run)


def fetch_dataset(
    dataset: Dataset,
    root: Path,
    *,
    accept_terms: bool = False,
    offline: bool | None = None,
    prefer_mirror: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = lambda _: None,
    repin: bool = False,
) -> FetchOutcome:
    """Lay out every source of `dataset` under `root` that is not there yet; see the module docstring."""
    outcome = FetchOutcome(dataset.key)
    pending = [s for s in dataset.sources if missing_targets(root, s)]
    gated = [s for s in pending if s.requires_acceptance]
    if gated and not accept_terms:
        raise TermsNotAcceptedError(
            f"{dataset.name} ({dataset.key}) has terms of use that must be accepted before it is fetched:\n"
            f"  {gated[0].terms}\nNothing was downloaded. If you accept them, run the command again with "
            "--accept-terms."
        )
    if not pending and not repin:  # nothing to write: a read-only root that holds the data is fine
        outcome.present += [t for s in dataset.sources for t in s.targets]
        outcome.archives = _kept_archives(dataset, root, dataset.sources)
        return outcome
    offline = is_offline(offline or None)
    with data_root_locked(root, create=True):
        if repin:
            lock.drop(root, dataset.key)
        todo = [(s, missing_targets(root, s)) for s in dataset.sources]  # again: another fetch may have laid them out
        for s, missing in todo:
            outcome.present += [m.target for m in s.members if m not in missing]
        outcome.archives = _kept_archives(dataset, root, [s for s, missing in todo if not missing])
        todo = [(s, missing) for s, missing in todo if missing]
        if todo:
            extract.clear_staging(root)
        for source, missing in todo:
            try:
                got = _obtain(dataset, source, root, offline=offline, prefer_mirror=prefer_mirror, progress=progress)
                if got is not None and source.format != "file":
                    say(f"{dataset.key} {source.name}: extracting {len(missing)} member(s) of {got.path.name}")
                    _extract(got, source, missing, root, progress=progress)
            except (DownloadError, DataError) as exc:  # the next sources are still attempted (module docstring)
                outcome.failed.append(str(exc))
                outcome.offline |= isinstance(exc, OfflineError)
                continue
            if got is None:
                outcome.manual.append(manual_step(root, dataset, source))
                continue
            if source.format != "file":
                outcome.archives[source.name] = lock.ArchiveRecord(source.filename, got.sha256, got.size, got.label)
            outcome.laid_out += [m.target for m in missing]
    return outcome


def _extract(got: _Obtained, source: DataSource, missing: list, root: Path, *, progress: bool) -> None:
    """Extract; a file this run downloaded that cannot be extracted is deleted (it was never pinned), so the next
    fetch downloads it afresh; a hand-placed one is named and kept."""
    try:
        extract.extract(got.path, source.format, missing, root, progress=progress)
    except (BadArchiveError, UnsafeArchiveError) as exc:
        if not got.downloaded:
            raise
        got.path.unlink(missing_ok=True)
        raise type(exc)(
            f"{exc}\nThe downloaded file {got.path} was deleted and nothing was pinned: the next `data fetch` "
            f"downloads it again (from {got.label})."
        ) from exc


def _kept_archives(dataset: Dataset, root: Path, laid_out: list[DataSource]) -> dict[str, lock.ArchiveRecord]:
    """The archives in `downloads/` of sources already laid out that the lock does not pin yet (extracted by an
    earlier fetch that ended with manual steps left, before any check): pinned by this fetch's check if it passes."""
    try:
        entry = lock.dataset_lock(root, dataset.key)
    except DataError:
        return {}  # the check that follows names the malformed lock
    out = {}
    for source in laid_out:
        path = download_path(root, dataset, source)
        if source.format == "file" or (entry and source.name in entry.archives) or not path.is_file():
            continue
        expected = _expected(dataset, source, root)
        sha, size = file_sha256(path), path.stat().st_size
        if not expected.problems(sha, size):
            out[source.name] = lock.ArchiveRecord(source.filename, sha, size, f"{path.name} (kept)")
    return out


def _expected(dataset: Dataset, source: DataSource, root: Path) -> Expected:
    if source.sha256 is not None:
        return Expected(sha256=source.sha256, size=source.size, dataset=dataset.key)
    entry = lock.dataset_lock(root, dataset.key)
    pin = None
    if entry is not None:
        pin = entry.files.get(source.members[0].target) if source.format == "file" else entry.archives.get(source.name)
    if pin is not None:
        return Expected(sha256=pin.sha256, size=source.size or pin.size, pinned=True, dataset=dataset.key)
    return Expected(size=source.size, dataset=dataset.key)


def _obtain(
    dataset: Dataset, source: DataSource, root: Path, *, offline: bool, prefer_mirror: bool, progress: bool
) -> _Obtained | None:
    """The verified file of `source` (downloaded if needed), or None when it must be placed by hand and is not
    there yet. Nothing is pinned here (module docstring)."""
    dest = download_path(root, dataset, source)
    expected = _expected(dataset, source, root)
    if dest.is_file():
        sha, size = file_sha256(dest), dest.stat().st_size
        if problems := expected.problems(sha, size):
            repin = f"; after an intended change, `{repin_command(dataset.key)}` drops the pins"
            raise DataError(
                f"{dest} does not verify: {'; '.join(problems)}. It was left as it is: delete it (or move it aside) "
                "to fetch it again, or place the exact file the source names there" + (repin if expected.pinned else "")
            )
        return _Obtained(dest, sha, size, f"{dest.name} (placed or kept)", downloaded=False)
    places = locations(dataset, source, prefer_mirror=prefer_mirror)
    if not places:
        return None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write {dest.parent} ({exc.strerror or exc}); pass a writable --data-root") from exc
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
        return _Obtained(dest, sha, dest.stat().st_size, place, downloaded=True)
    raise _all_failed(dataset, source, dest, attempts)


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
