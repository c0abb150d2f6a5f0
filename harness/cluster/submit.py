"""Submitting rows: one submitit job array per submission (one element per row), recorded in the manifest."""

from __future__ import annotations

from pathlib import Path

from harness import results
from harness.cluster import manifest
from harness.cluster.options import Resources
from harness.errors import HarnessError, InstallError


def log_folder(runs_dir: Path) -> Path:
    """submitit's folder pattern: one folder per job (array element) with its logs and result file."""
    return manifest.jobs_dir(runs_dir) / "logs" / "%j"


def executor(runs_dir: Path, resources: Resources):
    try:
        import submitit
    except ImportError:
        raise InstallError(
            "--launcher slurm needs submitit: pip install 'hrnet-zoo[cluster]' (or uv pip install submitit)"
        ) from None
    try:
        ex = submitit.SlurmExecutor(folder=log_folder(runs_dir), max_num_timeout=3)
    except RuntimeError as exc:  # submitit: no srun on PATH
        raise HarnessError(f"cannot submit to Slurm here: {exc}") from None
    ex.update_parameters(**resources.parameters())
    return ex


def submit(plans, requests, runs_dir: Path, resources: Resources, rows: dict) -> list[str]:
    """Submit every job of the planned rows as one array: per row one request, or one per part of a split row
    (`requests` holds each plan's list). Record each row in `rows` (the locked manifest). Returns the job ids."""
    import submitit

    from harness.cluster.job import RowJob

    ex = executor(runs_dir, resources)
    try:
        with ex.batch():
            jobs = [[ex.submit(RowJob(request)) for request in per_row] for per_row in requests]
    except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError, OSError) as exc:
        raise HarnessError(f"sbatch refused the jobs: {str(exc).strip()}") from None
    now = results.now_utc()
    for plan, row_jobs in zip(plans, jobs, strict=True):
        entry = rows.get(plan.key)
        history = entry.submissions if entry and entry.run_key == plan.run_key else []
        ids = [job.job_id for job in row_jobs]
        rows[plan.key] = manifest.RowJob(
            key=plan.key,
            row_id=plan.spec.result.row_id,
            protocol=plan.spec.protocol_name,
            run_key=plan.run_key,
            job_id=ids[0],
            submitted=now,
            resources=resources.record(),
            submissions=[*history, ",".join(ids)],
            parts=ids if len(ids) > 1 else [],
        )
    return [job.job_id for row_jobs in jobs for job in row_jobs]


def cancel(job_ids: list[str]) -> None:
    import shutil
    import subprocess

    if not job_ids:
        return
    exe = shutil.which("scancel")
    if exe is None:
        raise HarnessError("scancel is not on PATH: run this on a machine of the Slurm cluster the jobs went to")
    proc = subprocess.run([exe, *job_ids], capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise HarnessError(f"scancel failed: {proc.stderr.strip() or proc.returncode}")
