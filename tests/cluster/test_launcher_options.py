"""The Slurm launcher's parts that need no cluster: option checks (one line, exit 2), the provenance of a job's
environment, job states from submitit's result files, and the manifest (issue 23)."""

from __future__ import annotations

import pickle

import pytest

from harness.cli import main
from harness.cluster import manifest, states
from harness.cluster.options import parse_slurm_args
from harness.distributed import launcher_record
from harness.errors import HarnessError


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--partition", "gpu"], "--partition only applies to --launcher slurm"),
        (["--no-wait", "--time", "5"], "--time, --no-wait only apply to --launcher slurm"),
        (["--dry-run"], "--dry-run only applies to --launcher slurm"),
        (["--jobs-per-row", "2"], "--jobs-per-row only applies to --launcher slurm"),
        (["--launcher", "slurm", "--jobs-per-row", "0"], "--jobs-per-row must be at least 1"),
        (["--launcher", "slurm", "--gpus-per-job", "2", "--tasks-per-job", "3"], "one task per GPU"),
        (["--launcher", "slurm", "--cpus-per-job", "0"], "--cpus-per-job must be at least 1"),
        (["--launcher", "slurm", "--device", "cpu", "--gpus-per-job", "1"], "device follows its GPUs"),
        (["--launcher", "slurm", "--slurm-arg", "not a key=1"], "--slurm-arg 'not a key=1'"),
        (["--launcher", "slurm", "--json"], "--json is not available with --launcher slurm"),
    ],
)
def test_launcher_options_are_checked_before_anything_runs(workspace, extra, message, capsys):
    rc = main(["reproduce", "--dataset", "demo", "--data-root", str(workspace / "nodata"), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err


def test_slurm_args_pass_through_as_sbatch_long_options():
    assert parse_slurm_args(["account=pose", "exclusive", "--qos=high", "mail_type=END"]) == {
        "account": "pose",
        "exclusive": True,
        "qos": "high",
        "mail-type": "END",
    }
    with pytest.raises(HarnessError, match="KEY=VALUE"):
        parse_slurm_args(["=x"])


def test_launcher_provenance_from_the_job_environment():
    assert launcher_record({}) == {"name": "local"}
    assert launcher_record({"SLURM_JOB_ID": "7"}) == {"name": "local"}  # inside an allocation, not our job
    env = {
        "SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "10", "SLURM_ARRAY_TASK_ID": "2",
        "SLURMD_NODENAME": "gpu-017", "SLURM_NTASKS": "4", "SLURM_GPUS_ON_NODE": "4",
    }  # fmt: skip
    rec = launcher_record(env)
    assert rec["name"] == "slurm" and rec["job_id"] == "12" and rec["node"] == "gpu-017"
    assert (rec["array_job_id"], rec["array_task_id"], rec["tasks"], rec["gpus"]) == (10, 2, 4, 4)


def _result(folder, job_id: str, outcome) -> None:
    path = folder / job_id / f"{job_id}_0_result.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(outcome))


def test_job_states_from_result_files_and_squeue(tmp_path):
    folder = tmp_path / "%j"
    _result(tmp_path, "5_0", ("success", {"row_id": "r", "run_key": "k"}))
    trace = "Traceback\nsubmitit.core.utils.UncompletedJobError: Job not requeued because: timed-out too many times."
    _result(tmp_path, "5_1", ("error", trace))
    _result(tmp_path, "5_2", ("error", "Traceback ...\nharness.errors.DataError: cannot decode image 3.png"))
    queue = {
        "5_3": states.QueueInfo("CANCELLED", "vm", "", "", "0:03", "None"),
        "5_4": states.QueueInfo("RUNNING", "vm", "", "", "0:03", "None"),
        "5_5": states.QueueInfo("NODE_FAIL", "vm", "", "", "0:03", "None"),
        "5_7": states.QueueInfo("TIMEOUT", "vm", "", "", "5:00", "TimeLimit"),
    }
    got = {j: states.state_of(folder, j, queue) for j in ("5_0", "5_1", "5_2", "5_3", "5_4", "5_5", "5_6", "5_7")}
    assert got["5_0"].done and got["5_0"].result == {"row_id": "r", "run_key": "k"}
    assert got["5_1"].state == "TIMEOUT" and "time limit" in got["5_1"].why()
    assert got["5_2"].state == "FAILED" and "cannot decode image 3.png" in got["5_2"].why()
    assert got["5_3"].state == "CANCELLED" and got["5_3"].final
    assert got["5_4"].state == "RUNNING" and not got["5_4"].final
    assert got["5_5"].why() == "its node failed"
    assert got["5_6"].state == "LOST" and "without a result" in got["5_6"].why()
    assert got["5_7"].state == "TIMEOUT" and got["5_7"].why() == "reached its time limit"


def test_manifest_round_trip_and_a_damaged_one_is_named(tmp_path):
    with manifest.locked(tmp_path) as rows:
        rows["a/published"] = manifest.RowJob("a/published", "e/a", "published", "k1", job_id="3_0")
    assert manifest.load(tmp_path)["a/published"].job_id == "3_0"
    manifest.path(tmp_path).write_text("{not json")
    with pytest.raises(HarnessError, match="cannot read the job manifest"):
        manifest.load(tmp_path)


def test_a_node_with_other_data_is_refused_naming_the_file(tmp_path):
    from harness.checkpoints.hashing import file_sha256
    from harness.cluster.job import verify_inputs
    from harness.errors import DataError

    ann = tmp_path / "val.json"
    ann.write_text('{"images": []}')
    expected = file_sha256(ann)
    verify_inputs({str(ann): expected})  # the same bytes: runs
    ann.write_text('{"images": [], "changed": 1}')
    with pytest.raises(DataError, match=r"val.json on node .* is not the file the job was submitted with"):
        verify_inputs({str(ann): expected})
    ann.unlink()
    with pytest.raises(DataError, match="cannot be read on node"):
        verify_inputs({str(ann): expected})


@pytest.mark.slow
def test_dry_run_plans_from_the_data_here_with_split_rows_and_estimates(workspace, demo_data, capsys):
    common = ["reproduce", "--dataset", "demo", "--data-root", str(demo_data), "--offline", "--launcher", "slurm",
              "--chunk-size", "48", "--dry-run"]  # fmt: skip
    assert main([*common, "--cpus-per-job", "4", "--partition", "cpu", "--jobs-per-row", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) to submit as 2 job(s) in one job array" in out
    assert "each job: partition cpu, no GPU, 1 task(s) x 4 CPU(s)" in out
    (line,) = [x for x in out.splitlines() if "hrnet_w8_demo_128x96/gt-bbox (published)" in x]
    assert line.split()[2:6] == ["141", "instances", "3", "2"]  # items, chunks, jobs
    assert "run " in line and "~" in line  # the run identity, an estimate per job
    assert "W32 256x192 top-down, cpu-2core" in out and "total: ~" in out
    assert main([*common, "--gpus-per-job", "1"]) == 0
    out = capsys.readouterr().out
    assert "no committed benchmark figures for cuda" in out and "no figure for cuda (topdown, exact)" in out
    assert "total: no estimate" in out
    assert not (workspace / "runs" / "jobs").exists()


def test_dry_run_plans_without_data_or_checkpoints(workspace, capsys):
    """A login node with nothing: every row planned, counts "unknown" (never guessed), no traceback, no download."""
    args = ["reproduce", "--dataset", "all", "--data-root", str(workspace / "nodata"), "--launcher", "slurm",
            "--gpus-per-job", "1", "--max-running", "8", "--dry-run"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "row(s) to submit as" in out and "no data here: run identity not computed" in out
    assert "hrnet_w32_aic_512x512/multi-scale (published)" in out
    assert "unknown: no data and no data lock here, and the registry documents no counts" in out
    assert "no figure for cuda (bottomup, exact)" in out and "total: no estimate" in out
    assert not (workspace / "cache").exists() or not any((workspace / "cache").rglob("*.pth"))
    # A named benchmark environment gives the per-item figure even where the count is unknown.
    assert main([*args, "--estimate-device", "cpu-2core-amd-epyc-torch2.15.0"]) == 0
    assert "figure: 2.96 s per image, W32 512 bottom-up single-scale" in capsys.readouterr().out
    assert main([*args[:-1], "--estimate-device", "cpu"]) == 2
    assert "--estimate-device only applies to --dry-run" in capsys.readouterr().err


def test_a_data_lock_gives_the_image_count_without_the_data(workspace, capsys):
    from harness.data import lock

    root = workspace / "lockonly"
    root.mkdir()
    pinned = lock.DataLock({"demo": lock.DatasetLock(splits={"val": lock.SplitRecord(count=81, digest="x")})})
    (root / lock.LOCK_NAME).write_text(pinned.to_json())
    assert main(["reproduce", "--dataset", "demo", "--data-root", str(root), "--launcher", "slurm", "--dry-run"]) == 0
    assert "unknown: 80 images in the data lock, which does not count instances" in capsys.readouterr().out


def test_gpus_per_job_takes_the_tasks_path_with_nccl_and_a_gpu_per_rank(monkeypatch):
    """--gpus-per-job 2 and --tasks-per-job 2 differ only in the GPUs asked for, the job's device and so the
    backend (nccl) and device per rank; decided here without a GPU (torch.cuda answers as on a 2-GPU node)."""
    import argparse

    import torch
    import torch.distributed as dist

    from harness import distributed
    from harness.cluster.options import resources_from_args

    def resources(**given):
        base = dict(launcher="slurm", partition=None, gpus_per_job=None, cpus_per_job=1, tasks_per_job=None,
                    time=None, slurm_args=None, no_wait=None, dry_run=False, jobs_per_row=None, max_running=None,
                    estimate_device=None, device=None)  # fmt: skip
        return resources_from_args(argparse.Namespace(**{**base, **given}))

    gpus, tasks = resources(gpus_per_job=2), resources(tasks_per_job=2)
    assert (gpus.tasks_per_job, gpus.device, tasks.device) == (2, "cuda", "cpu")
    differ = {k for k in gpus.parameters().keys() | tasks.parameters().keys()
              if gpus.parameters().get(k) != tasks.parameters().get(k)}  # fmt: skip
    assert differ == {"gpus_per_node"}
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(dist, "is_nccl_available", lambda: True)
    for rank in (0, 1):  # what submitit's TorchDistributedEnvironment exports for task `rank` of the job
        assert distributed._backend_for(gpus.device, local_rank=rank) == "nccl"
        assert distributed.Context(rank, 2, rank, "nccl").device(gpus.device) == f"cuda:{rank}"
        assert distributed._backend_for(tasks.device, local_rank=rank) == "gloo"
        assert distributed.Context(rank, 2, rank, "gloo").device(tasks.device) == "cpu"
    assert chosen == [0, 1]
