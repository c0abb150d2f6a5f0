"""Waiting on a manifest's jobs with a live table: a line per row whenever its state changes (state, job, node,
elapsed, chunks done), and a progress bar of finished rows, like the local run's."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.cluster import manifest, states
from harness.cluster.states import JobState

#: Polling interval: quick at first (a short job is answered quickly), then at most every 30 s (squeue is a call
#: to slurmctld, which many users share).
FIRST_POLL_S, MAX_POLL_S = 1.0, 30.0


def poll(runs_dir: Path, rows: list[manifest.RowJob]) -> dict[str, JobState]:
    """{manifest key: JobState} of rows that have a job (a split row's: harness.cluster.states.of_row)."""
    with_jobs = [r for r in rows if r.job_ids()]
    queue = states.squeue(j for r in with_jobs for j in r.job_ids())
    folder = manifest.jobs_dir(runs_dir) / "logs" / "%j"
    return {r.key: states.of_row([states.state_of(folder, j, queue) for j in r.job_ids()]) for r in with_jobs}


def chunks_done(runs_dir: Path, row: manifest.RowJob) -> int:
    folder = Path(runs_dir) / row.key / ".chunks" / row.run_key
    return sum(1 for p in folder.glob("chunk_*") if ".tmp" not in p.name) if folder.is_dir() else 0


def line(runs_dir: Path, row: manifest.RowJob, state: JobState) -> str:
    q = state.queue
    where = f" on {q.node}" if q and q.node and q.node != "(null)" else ""
    elapsed = f"  {q.elapsed}" if q and q.elapsed not in ("", "0:00") else ""
    chunks = "" if state.done else f"  chunks done {chunks_done(runs_dir, row)}"
    jobs = f"jobs {row.job_id} +{len(row.parts) - 1}" if row.parts else f"job {row.job_id}"
    return f"  {state.state:<11} {row.row_id} ({row.protocol})  {jobs}{where}{elapsed}{chunks}"


def wait(
    runs_dir: Path,
    rows: list[manifest.RowJob],
    *,
    progress: bool,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict[str, JobState]:
    """Poll until every row's job is final; print the table's changes. Returns the final states."""
    from tqdm.auto import tqdm

    shown: dict[str, tuple] = {}
    delay = FIRST_POLL_S
    with tqdm(total=len(rows), unit="row", desc="jobs", disable=not progress, dynamic_ncols=True) as bar:
        while True:
            found = poll(runs_dir, rows)
            for row in rows:
                state = found.get(row.key)
                if state is None:
                    continue
                seen = (state.state, state.queue.node if state.queue else None, chunks_done(runs_dir, row))
                if shown.get(row.key) != seen:
                    shown[row.key] = seen
                    text = line(runs_dir, row, state)
                    if progress:
                        bar.write(text, file=sys.stderr)
                    else:
                        say(text)
            bar.n = sum(1 for s in found.values() if s.final)
            bar.refresh()
            if all(s.final for s in found.values()):
                return found
            time.sleep(delay)
            delay = min(MAX_POLL_S, delay * 1.5)
