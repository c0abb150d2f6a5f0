"""Where each dataset artefact comes from and where it goes: the registry's `sources` read against a data root.

Under the data root, next to the reference layout (PROTOCOLS.md §5):

    downloads/<dataset>/<file>      downloaded (or hand-placed) archives; a `.part` beside one is a resumable download
                                    (with `<file>.part.json`, the validators of the answer it came from)
    .staging/                       extractions in progress (harness.data.extract); removed by the next fetch
    hrnet-zoo-data.lock.json        the data lock (harness.data.lock)
    .hrnet-zoo-data.stat-cache.json what the last check hashed, by stat (harness.data.digests); safe to delete
    .hrnet-zoo-data.flock           held by a fetch or check of the root (`data_root_locked`)

A plain-file source (format "file", e.g. COCO's detection boxes) is downloaded or placed directly at its layout path.
Mirrors: the registry's per-source `mirrors`, then each entry of $HRNET_ZOO_DATA_MIRROR (comma-separated), where an
https URL prefix serves `<prefix>/<dataset>/<file>` and `hf://datasets/OWNER/REPO[@REV]` serves `<dataset>/<file>`
from a Hugging Face Hub dataset repository.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import locks
from harness.errors import DataError, HarnessError
from zoo import settings
from zoo.registry.schema import Dataset, DataSource, Registry

DOWNLOADS = "downloads"
FLOCK = ".hrnet-zoo-data.flock"


def check_root(root: Path) -> None:
    """DataError for a data root that can never hold data: a symlink to nothing, or a file."""
    if root.is_symlink() and not root.exists():
        raise DataError(
            f"the data root {root} is a symbolic link to {os.readlink(root)}, which does not exist: create that "
            "folder (or mount the disk it is on), or pass another --data-root"
        )
    if root.exists() and not root.is_dir():
        raise DataError(f"the data root {root} is not a folder; pass the folder that holds the datasets as --data-root")


@contextmanager
def data_root_locked(root: Path, *, create: bool = False) -> Iterator[None]:
    """Hold the data root's lock (harness/locks.py) for a fetch or a check: a second one waits, then sees what the
    first laid out and pinned. `create`: make the root first (a fetch). On a root where the lock file cannot be
    created (read-only, or absent for a check) the block runs unlocked: nothing can be written there either, and
    whatever would be is reported by the step that needs it."""
    check_root(root)
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not root.is_dir():
                raise DataError(f"cannot create the data root {root} ({exc.strerror or exc}); pass a writable "
                                "--data-root") from exc  # fmt: skip
    with locks.exclusive(root / FLOCK, waiting=f"waiting for another `data fetch` or `data check` of {root}",
                         unwritable=None):  # fmt: skip
        yield


def select_datasets(registry: Registry, name: str) -> list[Dataset]:
    """`all` (every dataset with sources) or one dataset by key; an unknown key lists the known ones."""
    with_sources = [d for d in registry.datasets.values() if d.sources]
    if name == "all":
        return with_sources
    if name not in registry.datasets:
        known = ", ".join(d.key for d in with_sources)
        raise HarnessError(f"unknown dataset {name!r}; expected one of: all, {known} (`python -m harness data list`)")
    return [registry.datasets[name]]


def download_path(root: Path, dataset: Dataset, source: DataSource) -> Path:
    """Where the source's file is downloaded to, or must be placed by hand."""
    if source.format == "file":
        return root / source.members[0].target
    return root / DOWNLOADS / dataset.key / source.filename


def missing_targets(root: Path, source: DataSource) -> list:
    """The source's members whose target is not laid out yet (a folder must exist, a file must be a file)."""
    out = []
    for m in source.members:
        path = root / m.target.rstrip("/")
        if not (path.is_dir() if m.is_dir else path.is_file()):
            out.append(m)
    return out


def locations(dataset: Dataset, source: DataSource, *, prefer_mirror: bool = False) -> list[str]:
    """Every place the source's bytes can come from, in the order they are tried."""
    # the entries are checked by zoo.settings.data_mirrors, the rule `doctor` checks them with too
    extra = [f"{prefix}/{dataset.key}/{source.filename}" for prefix in settings.data_mirrors()]
    mirrors = [*source.mirrors, *extra]
    return [*mirrors, *source.urls] if prefer_mirror else [*source.urls, *mirrors]


def fetch_command(keys: list[str], root: Path, *, accept_terms: bool = False) -> str:
    """The exact command that lays these datasets out under `root`."""
    args = ["python", "-m", "harness", "data", "fetch", *keys, "--data-root", str(root)]
    if accept_terms:
        args.append("--accept-terms")
    return shlex.join(args)


def repin_command(key: str) -> str:
    """The one command that drops a dataset's pins in the data lock and pins afresh what verifies."""
    return f"python -m harness data fetch {key} --repin"


def manual_step(root: Path, dataset: Dataset, source: DataSource) -> str:
    """The steps for a source without a direct download: page, exact file, where to drop it."""
    step = source.manual
    dest = download_path(root, dataset, source)
    note = f" ({step.note})" if step.note else ""
    return f"{dataset.key} {source.name}: download {step.file} from {step.page}{note}, and place it at {dest}"


def missing_data_hint(dataset: Dataset, root: Path) -> str:
    """What to run (and do by hand) to lay out a dataset whose files are missing: replaces "get it from HOMEPAGE"."""
    if not dataset.sources:
        return f"See {dataset.homepage}." if dataset.homepage else ""
    pending = [s for s in dataset.sources if missing_targets(root, s)]
    terms = any(s.requires_acceptance for s in dataset.sources)
    lines = [f"Lay it out with: {fetch_command([dataset.key], root, accept_terms=terms)}"]
    manual = [
        manual_step(root, dataset, s)
        for s in pending
        if s.manual is not None and not download_path(root, dataset, s).is_file()
    ]
    if manual:
        lines.append("It has no direct download for some files; first, by hand:")
        lines += [f"  - {m}" for m in manual]
    if terms:
        lines.append(f"--accept-terms accepts: {next(s.terms for s in dataset.sources if s.requires_acceptance)}")
    if dataset.homepage:
        lines.append(f"Dataset page: {dataset.homepage}")
    return "\n".join(lines)


def find_dataset(registry: Registry, name: str) -> Dataset | None:
    """A dataset by key or by display name (callers of resolve_split pass either)."""
    if name in registry.datasets:
        return registry.datasets[name]
    return next((d for d in registry.datasets.values() if d.name == name), None)
