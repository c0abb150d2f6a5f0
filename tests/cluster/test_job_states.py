"""Job states without sacct (harness/cluster/states.py): a failed, a cancelled and a timed-out job on the private
Slurm are each reported as such, from squeue and submitit's own result files.

The timed-out job has a one-minute limit and submitit's time-limit signal 15 s before it; Slurm sends such signals
with a resolution of up to a minute, so here it comes early, and submitit ends the (not checkpointable) job with its
"timed-out" error, which is what a job of the harness (checkpointable: requeued, then "timed-out too many times")
ends with as well. Slurm's own TIMEOUT state, for a job that ignores the signal, is mapped the same way
(tests/cluster/test_launcher_options.py)."""

from __future__ import annotations

import subprocess
import time

import pytest

from harness.cluster import states, submit
from harness.cluster.options import Resources

pytestmark = pytest.mark.slow


def planted_failure() -> dict:
    raise ValueError("planted failure for the state test")


def sleep(seconds: float) -> dict:
    time.sleep(seconds)
    return {"slept": seconds}


def test_failed_cancelled_and_timed_out_jobs_are_reported_as_such(slurm, tmp_path):
    folder = submit.log_folder(tmp_path)
    short = submit.executor(tmp_path, Resources(cpus_per_task=1, time_min=5))
    failed = short.submit(planted_failure).job_id
    cancelled = short.submit(sleep, 600).job_id
    timed_out = submit.executor(tmp_path, Resources(cpus_per_task=1, time_min=1)).submit(sleep, 600).job_id
    subprocess.run(["scancel", cancelled], check=True)
    ids = [failed, cancelled, timed_out]
    deadline = time.monotonic() + 240  # the time limit is checked about every 30 s after its minute
    while time.monotonic() < deadline:
        queue = states.squeue(ids)
        found = {job: states.state_of(folder, job, queue) for job in ids}
        if all(s.final for s in found.values()):
            break
        time.sleep(2)
    else:
        pytest.fail(f"jobs did not end: {found}")
    assert found[failed].state == "FAILED" and "planted failure for the state test" in found[failed].why()
    assert found[cancelled].state == "CANCELLED" and found[cancelled].why().startswith("cancelled")
    assert found[timed_out].state == "TIMEOUT" and "time limit" in found[timed_out].why()
    for state in found.values():
        assert not state.done and state.result is None
    _, err = states.log_paths(folder, failed)
    assert any("planted failure" in line for line in states.tail(err))
