"""What became of a job: Slurm's state from `squeue`, and the job's own outcome from the files submitit writes.

Why not sacct (what submitit's own watcher calls): sacct needs slurmdbd and a database, which many small clusters
and every CI container lack; there submitit warns "Bypassing sacct error" on each poll and reports states it cannot
know. squeue answers from slurmctld itself on every cluster, and keeps a finished job (COMPLETED, FAILED,
CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY) for MinJobAge seconds (300 by default). What a job
returned or raised is in submitit's result file beside its log whatever the cluster keeps, so the verdict never
depends on squeue: a result file says "done" or carries the error; without one, squeue's final state says why the
job ended (cancelled, time limit, node failure); a job in neither is "lost" (it left the queue without a result).
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

#: squeue's states of a job that may still run (everything else is final).
ACTIVE = {
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",
    "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "SPECIAL_EXIT",
}  # fmt: skip
#: Plain words for the final states a job can end in without a result.
WHY = {
    "CANCELLED": "cancelled (scancel or an administrator)",
    "TIMEOUT": "reached its time limit",
    "NODE_FAIL": "its node failed",
    "PREEMPTED": "preempted",
    "OUT_OF_MEMORY": "ran out of memory",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "missed its deadline",
    "FAILED": "failed",
    "COMPLETED": "ended without writing a result",
    "LOST": "left Slurm's queue without a result",
}
SQUEUE_FORMAT = "%i|%T|%N|%S|%e|%M|%r"
TAIL_LINES = 12


@dataclass(frozen=True)
class QueueInfo:
    """One job as squeue shows it."""

    state: str
    node: str
    start: str
    end: str
    elapsed: str
    reason: str


@dataclass(frozen=True)
class JobState:
    """A job's state for the table and the summary. `state` is squeue's (or DONE / FAILED from the result file,
    TIMEOUT for submitit's own timeout error, LOST); `result` is what the job returned when it succeeded."""

    job_id: str
    state: str
    final: bool
    queue: QueueInfo | None = None
    result: dict | None = None
    error: str | None = None  # the last line of the job's traceback

    @property
    def done(self) -> bool:
        return self.state == "DONE"

    def why(self) -> str:
        if self.error:
            return f"{WHY.get(self.state, self.state.lower())}: {self.error}"
        return WHY.get(self.state, self.state.lower())


def squeue(job_ids: Iterable[str]) -> dict[str, QueueInfo]:
    """{job id: QueueInfo} of the jobs squeue still knows (array elements one by one, as "123_4")."""
    ids = sorted({j.split("_")[0] for j in job_ids if j})
    if not ids:
        return {}
    exe = shutil.which("squeue")
    if exe is None:
        raise HarnessError("squeue is not on PATH: run this on a machine of the Slurm cluster the jobs went to")
    cmd = [exe, "-h", "-r", "-t", "all", "-j", ",".join(ids), "-o", SQUEUE_FORMAT]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        if "Invalid job id" in proc.stderr:  # every one of them has left the queue
            return {}
        raise HarnessError(f"squeue failed ({proc.stderr.strip() or proc.returncode}): {' '.join(cmd)}")
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 7:
            job, state, node, start, end, elapsed, reason = parts
            out[job] = QueueInfo(state.split()[0].rstrip("+"), node, start, end, elapsed, reason)
    return out


def log_paths(folder: Path, job_id: str, task: int = 0) -> tuple[Path, Path]:
    """(stdout, stderr) of a job's task, as submitit names them (its folder pattern RUNS/jobs/logs/%j)."""
    from submitit.core.utils import JobPaths

    paths = JobPaths(folder, job_id=job_id, task_id=task)
    return paths.stdout, paths.stderr


def read_result(folder: Path, job_id: str) -> tuple[str, object] | None:
    """submitit's ("success", value) or ("error", traceback text) of task 0, or None when not written (yet)."""
    from submitit.core.utils import JobPaths

    file = JobPaths(folder, job_id=job_id, task_id=0).result_pickle
    try:
        with open(file, "rb") as f:
            outcome = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file: the job's own outcome is unknown
        return "error", f"its result file {file} cannot be read ({type(exc).__name__}: {exc})"
    return outcome if isinstance(outcome, tuple) and len(outcome) == 2 else ("error", f"{file} is not a result")


def state_of(folder: Path, job_id: str, queue: dict[str, QueueInfo]) -> JobState:
    """One job's state from its result file first, then squeue."""
    info = queue.get(job_id)
    outcome = read_result(folder, job_id)
    if outcome is not None:
        kind, value = outcome
        if kind == "success" and isinstance(value, dict):
            return JobState(job_id, "DONE", True, info, result=value)
        text = str(value).strip()
        last = text.splitlines()[-1] if text else "no traceback"
        # submitit raises UncompletedJobError when the time-limit signal came and the job could not be requeued.
        state = "TIMEOUT" if "UncompletedJobError" in last and "timed-out" in last else "FAILED"
        return JobState(job_id, state, True, info, error=last)
    if info is None:
        return JobState(job_id, "LOST", True)
    return JobState(job_id, info.state, info.state not in ACTIVE, info)


def of_row(parts: list[JobState]) -> JobState:
    """The state of a row from the states of its jobs (one, or one per part of a split row): still running while
    any job is; done when every job is; else the first job that did not run (its id names the log)."""
    if len(parts) == 1:
        return parts[0]
    active = [s for s in parts if not s.final]
    if active:
        return next((s for s in active if s.state == "RUNNING"), active[0])
    failed = [s for s in parts if not s.done]
    if failed:
        return failed[0]
    gathered = next((s for s in parts if (s.result or {}).get("gathered")), parts[-1])
    return gathered


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a log (empty when it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
