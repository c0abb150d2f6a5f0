"""The manifest of a runs folder's Slurm jobs: RUNS/jobs/manifest.json, one entry per run folder (row x protocol x
overrides) with its row, run identity, job id, resources and whether its result was gathered into the history.

Every read-modify-write holds RUNS/jobs/manifest.lock (harness.locks), so a submitter and a `jobs wait` in another
shell never lose each other's changes, and the file is replaced atomically. `python -m harness jobs` re-attaches
to it after a logout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import locks, results
from harness.errors import HarnessError

FORMAT = 1


@dataclass
class RowJob:
    """One row's place in the manifest. `key` is its run folder relative to the runs folder."""

    key: str
    row_id: str
    protocol: str
    run_key: str
    job_id: str | None = None
    submitted: str | None = None
    resources: dict = field(default_factory=dict)
    #: Every job id this row was submitted as, oldest first (a resubmission after a failure adds one).
    submissions: list[str] = field(default_factory=list)
    #: The history file its result went into (None until gathered).
    gathered: str | None = None
    #: The job ids of its parts when the row is split over several jobs (--jobs-per-row), in part order; job_id is
    #: then the first of them.
    parts: list[str] = field(default_factory=list)

    def job_ids(self) -> list[str]:
        """Every job of the row's latest submission."""
        return list(self.parts) if self.parts else [self.job_id] if self.job_id else []


def jobs_dir(runs_dir: Path) -> Path:
    return Path(runs_dir) / "jobs"


def path(runs_dir: Path) -> Path:
    return jobs_dir(runs_dir) / "manifest.json"


def load(runs_dir: Path) -> dict[str, RowJob]:
    """The rows of the manifest ({} when there is none); a damaged manifest is an error naming it."""
    file = path(runs_dir)
    if not file.exists():
        return {}
    try:
        doc = json.loads(file.read_text())
        return {key: RowJob(**entry) for key, entry in doc["rows"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarnessError(
            f"cannot read the job manifest {file} ({type(exc).__name__}: {exc}); move it aside and submit again"
        ) from None


def save(runs_dir: Path, rows: dict[str, RowJob]) -> None:
    doc = {"format": FORMAT, "rows": {key: asdict(row) for key, row in sorted(rows.items())}}
    results.write_json_atomic(path(runs_dir), doc, indent=1)


@contextlib.contextmanager
def locked(runs_dir: Path) -> Iterator[dict[str, RowJob]]:
    """The manifest's rows, held under its lock for the block and saved at its end (when it ends without error)."""
    folder = jobs_dir(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)

    def unwritable(exc: OSError) -> HarnessError:
        return HarnessError(f"cannot lock {folder / 'manifest.lock'} ({exc.strerror or exc}); is --runs writable?")

    with locks.exclusive(folder / "manifest.lock", waiting="waiting for another writer of the job manifest",
                         unwritable=unwritable):  # fmt: skip
        rows = load(runs_dir)
        yield rows
        save(runs_dir, rows)
