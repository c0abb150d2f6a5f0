"""`reproduce --launcher slurm` against a real (private, one-node) Slurm: the same bytes as the local launcher,
one history record per row, resume after scancel, a failed job reported as "did not run", two rows at once and
two tasks per job (issue 23). Each test submits the demo's two rows (tests/cluster/conftest.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from harness.cli import main
from harness.cluster import manifest, states
from tests.cluster.conftest import ROW_A, ROW_B, reproduce_args

pytestmark = pytest.mark.slow

SLURM = ["--launcher", "slurm", "--cpus-per-job", "1", "--time", "15"]


@pytest.fixture
def zoo_env(workspace, two_row_registry, monkeypatch, slurm):
    monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(two_row_registry))
    return workspace


def _folder(workspace: Path, row: str) -> Path:
    return workspace / "runs" / row.replace("/", "__") / "published"


def _history(workspace: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((workspace / "results" / "history").glob("*.json"))]


def _assert_local_bytes(workspace: Path, local_files, rows=(ROW_A, ROW_B)) -> None:
    for row in rows:
        for name, data in local_files[row].items():
            assert (_folder(workspace, row) / name).read_bytes() == data, f"{row}: {name} differs from the local run"


def _squeue_times(job_ids: list[str]) -> dict[str, tuple[datetime, datetime]]:
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "all", "-j", ",".join({j.split("_")[0] for j in job_ids}), "-o", "%i|%S|%e"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    times = {}
    for line in out.split():
        job, start, end = line.split("|")
        times[job] = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    return times


def test_slurm_gives_the_local_bytes_one_record_per_row_and_rows_overlap(zoo_env, demo_data, local_files, capsys):
    workspace = zoo_env
    # Submit and return, then re-attach as after a logout: `jobs wait` waits and gathers like the submitter would.
    assert main(reproduce_args(demo_data, *SLURM, "--no-wait")) == 0
    assert not (workspace / "results" / "history").exists()
    rc = main(["jobs", "wait", str(workspace / "runs"), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    assert f"reproduced  {ROW_A}" in out and f"reproduced  {ROW_B}" in out
    assert "RUNNING" in err and "DONE" in err  # the live table's lines
    _assert_local_bytes(workspace, local_files)
    records = _history(workspace)
    assert sorted(r["row_id"] for r in records) == [ROW_A, ROW_B]
    rows = {r.row_id: r for r in manifest.load(workspace / "runs").values()}
    for record in records:
        launcher = record["provenance"]["launcher"]
        job = rows[record["row_id"]].job_id
        assert launcher["name"] == "slurm" and launcher["node"] and launcher["tasks"] == 1
        assert f"{launcher['array_job_id']}_{launcher['array_task_id']}" == job
        assert record["provenance"]["settings"]["torch_threads"] == 1
    # Slurm's own start and end times: the two rows (one CPU each, two on the node) ran at the same time.
    times = _squeue_times([r.job_id for r in rows.values()])
    (a0, a1), (b0, b1) = times[rows[ROW_A].job_id], times[rows[ROW_B].job_id]
    assert a0 < b1 and b0 < a1, times
    # The same command again: both runs are complete and verified, nothing is submitted, nothing appended.
    assert main(reproduce_args(demo_data, *SLURM)) == 0
    assert "submitted 0 job(s)" in capsys.readouterr().err
    assert len(_history(workspace)) == 2


def _wait_for(predicate, what: str, timeout_s: float = 300):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


def test_scancel_then_the_same_command_resumes_from_the_chunks(
    zoo_env, demo_data, local_files, tmp_path, monkeypatch, capsys
):
    workspace, runs = zoo_env, zoo_env / "runs"
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / (ROW_B.replace("/", "__") + ".held")).write_text("row B runs through\n")
    monkeypatch.setenv("HRNET_ZOO_TEST_HOLD", str(hold))
    assert main(reproduce_args(demo_data, *SLURM, "--no-wait")) == 0
    assert "jobs wait" in capsys.readouterr().err
    job_a = {r.row_id: r for r in manifest.load(runs).values()}[ROW_A].job_id
    _wait_for((hold / (ROW_A.replace("/", "__") + ".held")).exists, "row A's job to hold after its first chunk")
    subprocess.run(["scancel", job_a], check=True)
    folder = runs / "jobs" / "logs" / "%j"
    _wait_for(lambda: states.state_of(folder, job_a, states.squeue([job_a])).final, "the cancelled job to end")
    assert main(["jobs", "status", str(runs)]) == 0
    status = capsys.readouterr().out
    assert f"CANCELLED   {ROW_A}" in status and "cancelled (scancel" in status
    assert not list((workspace / "results" / "history").glob("*.json")) or len(_history(workspace)) == 0
    # The same command again: row A resumes from its saved chunk; row B is not submitted again.
    rc = main(reproduce_args(demo_data, *SLURM))
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    rows = {r.row_id: r for r in manifest.load(runs).values()}
    assert len(rows[ROW_A].submissions) == 2 and len(rows[ROW_B].submissions) == 1
    result = json.loads((_folder(workspace, ROW_A) / "result.json").read_text())
    assert result["provenance"]["chunks"] == {"reused": 1, "computed": 2}
    _assert_local_bytes(workspace, local_files)
    assert sorted(r["row_id"] for r in _history(workspace)) == [ROW_A, ROW_B]


def test_a_failed_job_is_reported_as_did_not_run_and_the_other_row_completes(zoo_env, demo_data, tmp_path, capsys):
    workspace = zoo_env
    root = tmp_path / "data"
    root.mkdir()
    (root / "demo").symlink_to(demo_data / "demo", target_is_directory=True)
    shutil.copytree(demo_data / "demo", root / "demo_b")  # row B's own copy, with one image that cannot be decoded
    broken = sorted((root / "demo_b" / "images" / "val").iterdir())[3]
    broken.write_bytes(b"not an image")
    rc = main(reproduce_args(root, *SLURM))
    out, err = capsys.readouterr()
    assert rc == 3, out + err
    assert f"reproduced  {ROW_A}" in out
    assert f"did not run  {ROW_B}" in out and "failed" in out
    log = next(line.split("log: ", 1)[1] for line in out.splitlines() if "log: " in line)
    assert Path(log).is_file()
    assert f"cannot decode image {broken}" in out  # the last lines of the job's error, quoted
    assert [r["row_id"] for r in _history(workspace)] == [ROW_A]


def test_two_tasks_per_job_give_the_bytes_of_one(zoo_env, demo_data, local_files, capsys):
    workspace = zoo_env
    args = reproduce_args(demo_data, "--launcher", "slurm", "--cpus-per-job", "1", "--tasks-per-job", "2")
    args[args.index("--rows") + 1] = ROW_A
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    _assert_local_bytes(workspace, local_files, rows=(ROW_A,))
    (record,) = _history(workspace)
    assert record["provenance"]["launcher"]["tasks"] == 2
    assert record["provenance"]["settings"]["world_size"] == 2
    assert record["provenance"]["settings"]["backend"] == "gloo"


def test_a_row_split_over_two_jobs_gives_the_local_bytes_and_one_record(zoo_env, demo_data, local_files, capsys):
    workspace = zoo_env
    args = reproduce_args(demo_data, *SLURM, "--jobs-per-row", "2")
    args[args.index("--rows") + 1] = ROW_A
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    assert "submitted 2 job(s) for 1 row(s)" in err
    _assert_local_bytes(workspace, local_files, rows=(ROW_A,))
    (record,) = _history(workspace)
    assert record["provenance"]["chunks"] == {"reused": 3, "computed": 0}  # the gathering step computed nothing
    (row,) = manifest.load(workspace / "runs").values()
    assert len(row.parts) == 2 and row.job_id == row.parts[0]
    folder = workspace / "runs" / "jobs" / "logs" / "%j"
    results = [states.state_of(folder, j, {}).result for j in row.parts]
    assert [r["chunks"] for r in results] == [[0, 1], [1, 3]]  # disjoint ranges of the same run's chunks
    assert sum(r["gathered"] for r in results) == 1 and {r["run_key"] for r in results} == {record["run_key"]}
    assert not (_folder(workspace, ROW_A) / ".chunks" / record["run_key"]).exists()


def test_a_preempted_job_is_requeued_and_resumes_from_its_chunks(
    zoo_env, demo_data, local_files, tmp_path, monkeypatch, capsys
):
    """Preemption as submitit sees it: SIGUSR2 (what --signal sends before the time limit, or a preempting
    scheduler) while the job is held after its first chunk; submitit checkpoints RowJob and requeues the job,
    which runs again under the same job id and resumes from the chunk on disk."""
    workspace, runs = zoo_env, zoo_env / "runs"
    hold = tmp_path / "hold"
    hold.mkdir()
    monkeypatch.setenv("HRNET_ZOO_TEST_HOLD", str(hold))
    args = reproduce_args(demo_data, *SLURM)
    args[args.index("--rows") + 1] = ROW_A
    assert main([*args, "--no-wait"]) == 0
    (row,) = manifest.load(runs).values()
    _wait_for((hold / (ROW_A.replace("/", "__") + ".held")).exists, "the job to hold after its first chunk")
    subprocess.run(["scancel", "--signal=USR2", row.job_id], check=True)
    rc = main(["jobs", "wait", str(runs), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    (record,) = _history(workspace)
    assert record["provenance"]["chunks"] == {"reused": 1, "computed": 2}
    assert record["provenance"]["launcher"]["restarts"] == 1
    assert manifest.load(runs)[row.key].submissions == [row.job_id]  # requeued by Slurm, not submitted again
    _assert_local_bytes(workspace, local_files, rows=(ROW_A,))
    out_log, err_log = states.log_paths(runs / "jobs" / "logs" / "%j", row.job_id)
    assert "this job is preempted" in err_log.read_text() and "Requeued job" in out_log.read_text()
