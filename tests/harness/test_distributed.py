"""Data-parallel evaluation under torchrun (harness.distributed): sharding, launch errors, failure propagation, and
the real `torchrun --nproc-per-node 2 -m harness evaluate` on the CPU (gloo) giving predictions.json and
metrics.json identical, byte for byte, to a single-process run.

Every launched process gets a marker in its environment; whatever still carries it when a test ends (torchrun's
workers run in sessions of their own) is killed by pid, so a failing or hung test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.distributed import SINGLE, Context, chunk_order, launch_env, setup
from harness.errors import DistributedError
from zoo import load_registry, settings

REPO = Path(__file__).resolve().parents[2]
TOPDOWN = "hrnet_w32_aic_256x192"
BOTTOMUP = "hrnet_w32_aic_512x512"
MARKER = settings.TEST_LAUNCH.name
TIMEOUT_S = 420  # per launch; a 2-core machine shared with other test runs is slow, a hang is not


# ---------------------------------------------------------------------------------------------------------------
# without a process group


def test_single_process_without_torchrun_variables():
    assert launch_env({}) is None
    assert launch_env({"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"}) is None
    assert setup(environ={}) is SINGLE
    assert SINGLE.shard(3) == [0, 1, 2] and SINGLE.device("cuda:1") == "cuda:1"
    assert SINGLE.run_sharded(lambda: {0: "a"}, lambda shares: chunk_order(shares, 1)) == ["a"]


def test_sharding_is_deterministic_complete_and_balanced():
    for world in (2, 3, 8):
        shards = [Context(rank=r, world_size=world).shard(11) for r in range(world)]
        assert sorted(i for s in shards for i in s) == list(range(11))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert Context(rank=1, world_size=2).shard(5) == [1, 3]


def test_chunk_order_merges_ranks_and_rejects_gaps_and_duplicates():
    assert chunk_order([{0: "a", 2: "c"}, {1: "b"}], 3) == ["a", "b", "c"]
    with pytest.raises(DistributedError, match=r"chunks \[2\] were computed by no rank"):
        chunk_order([{0: "a"}, {1: "b"}], 3)
    with pytest.raises(DistributedError, match="chunk 1 was computed by two ranks"):
        chunk_order([{0: "a", 1: "b"}, {1: "b"}], 2)


def test_each_rank_takes_its_local_gpu():
    ctx = Context(rank=3, world_size=4, local_rank=1, backend="nccl")
    assert ctx.device("cuda") == "cuda:1" and ctx.device("cuda:1") == "cuda:1" and ctx.device("cpu") == "cpu"
    with pytest.raises(DistributedError, match="CUDA_VISIBLE_DEVICES"):
        ctx.device("cuda:0")


def test_world_size_without_torchrun_says_how_to_launch():
    with pytest.raises(DistributedError, match=r"MASTER_ADDR, MASTER_PORT not set.*torchrun --nproc-per-node"):
        setup(environ={"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"})
    with pytest.raises(DistributedError, match="0 <= RANK < WORLD_SIZE"):
        launch_env({"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(DistributedError, match="not integers"):
        launch_env({"WORLD_SIZE": "two"})


def test_cuda_under_torchrun_without_cuda_suggests_the_cpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    with pytest.raises(DistributedError, match="--device cpu"):
        setup(device="cuda", environ=env)


# ---------------------------------------------------------------------------------------------------------------
# launching processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT")}
    # One thread per process: 2 ranks on a 2-core machine, and the same numerics in the single-process run.
    env.update(
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    )
    return env


def _marked_pids(marker: str) -> list[int]:
    """Processes whose environment carries the marker (Linux /proc; elsewhere, none are found)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if f"{MARKER}={marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def _launch(commands: list[tuple[list[str], dict[str, str]]], logs: Path, *, timeout: float = TIMEOUT_S) -> list:
    """Run the commands side by side; (returncode, stdout, stderr) of each. Everything they started is killed
    on timeout or when the test fails."""
    marker = uuid.uuid4().hex
    logs.mkdir(parents=True, exist_ok=True)
    procs, files = [], []
    try:
        for i, (cmd, env) in enumerate(commands):
            out, err = open(logs / f"{i}.out", "w"), open(logs / f"{i}.err", "w")  # noqa: SIM115 (closed below)
            files += [out, err]
            procs.append(
                subprocess.Popen(
                    cmd, cwd=REPO, env={**env, MARKER: marker}, stdout=out, stderr=err, start_new_session=True
                )
            )
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{' '.join(commands[procs.index(p)][0])} ran past {timeout} s; logs in {logs}")
    finally:
        _stop(procs, marker)
        for f in files:
            f.close()
    return [
        (p.returncode, (logs / f"{i}.out").read_text(), (logs / f"{i}.err").read_text()) for i, p in enumerate(procs)
    ]


def _stop(procs: list[subprocess.Popen], marker: str) -> None:
    """SIGTERM first (torchrun then stops its workers itself), SIGKILL what is left, found by pid."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    end = time.monotonic() + 15
    while any(p.poll() is None for p in procs) and time.monotonic() < end:
        time.sleep(0.2)
    for pid in [p.pid for p in procs if p.poll() is None] + _marked_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for p in procs:
        p.wait(timeout=30)


def _torchrun(nproc: int, *args: str) -> list[str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    port = str(_free_port())
    return [*launcher, "--nnodes", "1", "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
            "--master-port", port, *args]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# two real processes on the CPU (gloo)

_PRIMITIVES = """
import json, sys
from harness import distributed

ctx = distributed.setup(device="cpu")
out = {"rank": ctx.rank, "backend": ctx.backend}
out["sharded"] = ctx.run_sharded(
    lambda: {i: i * i for i in ctx.shard(5)}, lambda shares: distributed.chunk_order(shares, 5)
)
try:
    ctx.main_only(lambda: 1 / 0)
except Exception as exc:
    out["main_only"] = f"{type(exc).__name__}: {exc}"

def compute():
    if ctx.rank == 1:
        raise ValueError("no such image on rank 1")
    return ctx.rank

try:
    ctx.run_sharded(compute, sum)
except Exception as exc:
    out["failed_share"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
distributed.shutdown()
"""


@pytest.mark.slow
def test_collectives_agree_and_a_failure_stops_every_rank(tmp_path):
    env = _base_env() | {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    runs = _launch(
        [([sys.executable, "-c", _PRIMITIVES], env | {"RANK": str(r), "LOCAL_RANK": str(r)}) for r in (0, 1)],
        tmp_path / "logs",
        timeout=180,
    )
    assert [rc for rc, _, _ in runs] == [0, 0], runs
    rank0, rank1 = (json.loads(out) for _, out, _ in runs)
    assert rank0["backend"] == rank1["backend"] == "gloo"
    assert rank0["sharded"] == rank1["sharded"] == [0, 1, 4, 9, 16]
    assert rank0["main_only"] == "ZeroDivisionError: division by zero"
    assert rank1["main_only"].startswith("DistributedError: rank 0 failed (ZeroDivisionError")
    # The failing rank raises its own error; rank 0 names the rank and the error.
    assert rank1["failed_share"] == "ValueError: no such image on rank 1"
    assert rank0["failed_share"] == (
        "DistributedError: computing the shares failed on rank 1: ValueError: no such image on rank 1"
    )


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Seeded random MMPose-format weights of an AIC entry (BN calibrated at 64x64), made once per module."""
    from harness.models.random_weights import make_random_checkpoint

    folder, made = tmp_path_factory.mktemp("ckpt"), {}

    def get(entry: str) -> Path:
        if entry not in made:
            arch = load_registry().entry(entry).architecture
            made[entry] = make_random_checkpoint(arch, folder / f"{entry}.pth", seed=3, input_size=(64, 64))
        return made[entry]

    return get


def _evaluate_args(samples_dir: Path, checkpoint: Path, entry: str, *extra: str) -> list[str]:
    aic = samples_dir / "aic"
    return ["evaluate", entry, "--checkpoint", str(checkpoint), "--ann-file", str(aic / "test_aic.json"),
            "--img-dir", str(aic), "--device", "cpu", "--no-progress", *extra]  # fmt: skip


def _compare_with_single_process(tmp_path: Path, args: list[str]) -> list[dict]:
    """Run single-process and 2-process evaluations side by side; the files must be the same bytes."""
    single, dist = tmp_path / "single", tmp_path / "torchrun"
    env = _base_env()
    runs = _launch(
        [
            ([sys.executable, "-m", "harness", *args, "--out", str(single)], env),
            (_torchrun(2, "-m", "harness", *args, "--out", str(dist)), env),
        ],
        tmp_path / "logs",
    )
    for rc, out, err in runs:
        assert rc == 0, f"{out}\n{err}"
    # Rank 0 alone reports: one summary on stdout, with the same metrics as the single-process run.
    summaries = [json.loads(out[out.index("{") :]) for _, out, _ in runs]
    assert summaries[0]["metrics"] == summaries[1]["metrics"]
    for name in ("predictions.json", "metrics.json"):
        assert (dist / name).read_bytes() == (single / name).read_bytes(), name
    records = [json.loads((d / "result.json").read_text()) for d in (single, dist)]
    assert records[0]["run_key"] == records[1]["run_key"]  # the world size is not part of the identity
    assert records[0]["identity"] == records[1]["identity"]
    settings = [r["provenance"]["settings"] for r in records]
    assert (settings[0]["world_size"], settings[0]["backend"]) == (1, None)
    assert (settings[1]["world_size"], settings[1]["backend"]) == (2, "gloo")
    assert records[0]["provenance"]["counts"] == records[1]["provenance"]["counts"]
    assert not (dist / ".chunks" / records[1]["run_key"]).exists()  # the chunk cache goes once the files exist
    return records


@pytest.mark.slow
def test_topdown_torchrun_resumes_and_matches_a_single_process_byte_for_byte(
    tmp_path, samples_dir, checkpoints, monkeypatch
):
    import torch

    import harness.topdown.inference as inference
    from harness.cli import main

    # 9 instances in chunks of 2: rank 0 takes chunks 0, 2, 4 and rank 1 chunks 1, 3.
    args = _evaluate_args(samples_dir, checkpoints(TOPDOWN), TOPDOWN, "--chunk-size", "2")
    # First a single-process run into the torchrun folder, interrupted in its second chunk: chunk 0 is saved.
    real, calls = inference.predict_topdown, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(inference, "predict_topdown", interrupted)
    torch.set_num_threads(1)  # as the launched processes (OMP_NUM_THREADS=1)
    assert main([*args, "--out", str(tmp_path / "torchrun")]) == 130
    records = _compare_with_single_process(tmp_path, args)
    assert records[0]["provenance"]["chunks"] == {"reused": 0, "computed": 5}
    assert records[1]["provenance"]["chunks"] == {"reused": 1, "computed": 4}  # resumed across world sizes


@pytest.mark.slow
def test_bottomup_torchrun_matches_a_single_process_byte_for_byte(tmp_path, samples_dir, checkpoints):
    # --chunk-size 32 is one image per chunk: each rank takes one of the first two images. --no-flip halves the
    # time on a 2-core machine; images are independent with or without the flip test.
    args = _evaluate_args(
        samples_dir, checkpoints(BOTTOMUP), BOTTOMUP, "--chunk-size", "32", "--limit", "2", "--no-flip"
    )
    records = _compare_with_single_process(tmp_path, args)
    assert records[0]["provenance"]["chunks"] == records[1]["provenance"]["chunks"] == {"reused": 0, "computed": 2}
