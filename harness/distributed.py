"""Data-parallel evaluation under `torchrun`: shard the chunks over ranks, gather them once, score on rank 0.

Usage (one machine, 2 GPUs; the CPU works the same way with the gloo backend)::

    torchrun --nproc-per-node 2 -m harness evaluate hrnet_w32_aic_256x192 --out runs/aic
    torchrun --nproc-per-node 4 -m harness reproduce --dataset coco
    # several machines: the same command on each, e.g. --nnodes 2 --node-rank R --master-addr HOST --master-port P

torchrun sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; `setup()` reads them and joins the
process group (env:// init; nccl when the run's device is CUDA, gloo on the CPU). Each rank runs on
cuda:LOCAL_RANK (choose the GPUs with CUDA_VISIBLE_DEVICES, not --device cuda:N). Without torchrun, or with
WORLD_SIZE=1, nothing here touches torch.distributed and the single-process path runs as before.

How a run is split (harness.engine): the work is already cut into resume chunks; chunk i goes to rank
i % WORLD_SIZE (`Context.shard`), each rank saves its own chunk files (never another rank's) in the run's chunk
folder, so an interrupted run resumes with any world size. The raw per-chunk outputs are gathered to rank 0 once, in
chunk order, and only rank 0 post-processes (top-down rescoring and OKS-NMS), scores and writes
predictions.json / metrics.json / result.json. Per-instance and per-image predictions do not depend on their
neighbours, so the files are bit-identical to a single-process run's WITH THE SAME TORCH THREAD COUNT per process:
torchrun sets OMP_NUM_THREADS=1 for every rank unless told otherwise, and a CPU convolution run on 1 or on 2 threads
sums in another order (measured: 1.7e-4 px and 2.8e-5 in scores apart), so compare with `OMP_NUM_THREADS=1 python
-m harness evaluate ...` (each result.json records torch_threads). The world size is recorded under
provenance.settings but is not part of the run identity. Every rank returns the same metrics, and an error on any
rank stops every rank with exit status 2 (`Context.run_sharded`, `Context.main_only`).

Several machines: rank 0 writes the result files on its own disk; the chunk cache of a rank lives in the --out
folder of that rank's machine (a shared --out folder works too: ranks never write the same chunk file).
"""

from __future__ import annotations

import atexit
import datetime
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import DistributedError

T = TypeVar("T")
R = TypeVar("R")

#: The variables torchrun sets for every worker (MASTER_ADDR/PORT are needed for env:// init as well).
LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
RENDEZVOUS_VARS = ("MASTER_ADDR", "MASTER_PORT")

#: Collective timeout. Ranks wait for the slowest rank's share, then for rank 0's scoring (minutes on COCO with
#: detector boxes), so torch's defaults (10 min for nccl) are too tight; a crashed rank is noticed by torchrun
#: itself, which stops the others, so a long timeout does not leave hung runs behind.
TIMEOUT = datetime.timedelta(hours=2)


@dataclass(frozen=True)
class Context:
    """This process's place in the run. The default is the single-process run (no process group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" / "nccl"; None without a process group

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, count: int) -> list[int]:
        """The work units (0..count-1) of this rank: i % world_size == rank (deterministic, balanced to one unit)."""
        return list(range(self.rank, count, self.world_size))

    def device(self, requested: str) -> str:
        """The device of this rank: "cuda" becomes cuda:LOCAL_RANK; an explicit other GPU index is an error."""
        if not self.is_distributed or not requested.startswith("cuda"):
            return requested
        mine = f"cuda:{self.local_rank}"
        if requested not in ("cuda", mine):
            raise DistributedError(
                f"--device {requested} under torchrun: every rank uses cuda:LOCAL_RANK (this is rank {self.rank}, "
                f"LOCAL_RANK {self.local_rank}); pass --device cuda and pick the GPUs with CUDA_VISIBLE_DEVICES"
            )
        return mine

    def record(self) -> dict[str, Any]:
        """What goes into result.json's provenance.settings (never into the run identity)."""
        return {"world_size": self.world_size, "backend": self.backend}

    # -- collectives (no-ops in a single-process run) --------------------------------------------------------

    def barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier(group=_object_group())

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's obj, in rank order, on rank 0 (None on the others). Pickled: exact, any picklable value."""
        if not self.is_distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0, group=_object_group())
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's obj on every rank (the others pass anything, e.g. None)."""
        if not self.is_distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=_object_group())
        return box[0]

    def main_only(self, fn: Callable[[], T]) -> T:
        """Run fn on rank 0 only; every rank returns its value. When it raises, rank 0 re-raises and every other
        rank raises a DistributedError, so all ranks stop with the same exit status."""
        if not self.is_distributed:
            return fn()
        if self.is_main:
            try:
                value = fn()
            except Exception as exc:
                self.broadcast((False, f"{type(exc).__name__}: {exc}"))
                raise
            return self.broadcast((True, value))[1]
        ok, value = self.broadcast(None)
        if not ok:
            head = value.splitlines()[0] if value else ""
            raise DistributedError(f"rank 0 failed ({head}); rank {self.rank} stops too")
        return value

    def main_first(self, fn: Callable[[], T]) -> T:
        """Run fn on rank 0 first, then on the others (e.g. a download: the others find it cached)."""
        if not self.is_distributed:
            return fn()
        result: list[T] = []
        self.main_only(lambda: result.append(fn()))
        return result[0] if self.is_main else fn()

    def run_sharded(
        self,
        compute: Callable[[], T],
        finish: Callable[[list[T]], R],
        *,
        public: Callable[[R], R] = lambda value: value,
    ) -> R:
        """Every rank runs compute(); rank 0 runs finish(values of all ranks, in rank order) and returns its result;
        the other ranks return public(result) (by default the same value), broadcast from rank 0.

        A failure anywhere stops every rank: the failing rank raises its own error, the others a DistributedError
        that names it. Single-process: finish([compute()]).
        """
        if not self.is_distributed:
            return finish([compute()])
        error: Exception | None = None
        try:
            local: Any = (None, compute())
        except Exception as exc:
            error, local = exc, (f"{type(exc).__name__}: {exc}", None)
        gathered = self.gather(local)

        def finish_on_main():
            failed = [f"rank {r}: {msg}" for r, (msg, _) in enumerate(gathered) if msg is not None]
            if failed:
                raise DistributedError("computing the shares failed on " + "; ".join(failed))
            value = finish([v for _, v in gathered])
            kept.append(value)
            return public(value)

        kept: list[R] = []
        try:
            shared = self.main_only(finish_on_main)
        except DistributedError:
            if error is not None:
                raise error from None
            raise
        return kept[0] if self.is_main else shared


SINGLE = Context()
_state: dict[str, Any] = {"owned": False, "object_group": None}


def launch_env(environ: os._Environ | dict[str, str] | None = None) -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) from torchrun's variables, or None for a single-process run."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    try:
        world = int(env["WORLD_SIZE"])
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", env.get("RANK", "0")))
    except ValueError:
        values = ", ".join(f"{k}={env.get(k)!r}" for k in LAUNCH_VARS)
        raise DistributedError(f"torchrun variables are not integers ({values}); start the run with torchrun") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise DistributedError(
            f"inconsistent launch: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}; expected "
            "0 <= RANK < WORLD_SIZE; start the run with torchrun, or unset WORLD_SIZE for a single process"
        )
    return (rank, world, local) if world > 1 else None


def setup(*, device: str = "cpu", environ: os._Environ | dict[str, str] | None = None) -> Context:
    """This process's Context; under torchrun with WORLD_SIZE > 1, join the process group first (idempotent).

    device: the run's requested device ("cpu", "cuda", "cuda:N"); CUDA selects nccl and cuda:LOCAL_RANK.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return _context_of_group(environ)
    launched = launch_env(environ)
    if launched is None:
        return SINGLE
    rank, world, local = launched
    env = os.environ if environ is None else environ
    missing = [k for k in (*LAUNCH_VARS, *RENDEZVOUS_VARS) if k not in env]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE={world} but {', '.join(missing)} not set: a multi-process run is started by torchrun "
            "(torchrun --nproc-per-node N -m harness evaluate ...), which sets them; unset WORLD_SIZE to run in "
            "a single process"
        )
    backend = _backend_for(device, local_rank=local)
    try:
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world, timeout=TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        where = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
        raise DistributedError(
            f"cannot join the {backend} process group at {where} as rank {rank} of {world}: {exc}. Start every "
            "rank with the same torchrun command (same --nnodes, --master-addr, --master-port), or run in a single "
            "process without torchrun"
        ) from exc
    _state["owned"] = True
    atexit.register(shutdown)
    _object_group()  # created now, by every rank at the same point (new_group is itself a collective)
    return _context_of_group(environ)


def shutdown() -> None:
    """Leave the process group this module joined (a group someone else created is left alone)."""
    import torch.distributed as dist

    if _state["owned"] and dist.is_initialized():
        dist.destroy_process_group()
    _state.update(owned=False, object_group=None)


def _backend_for(device: str, *, local_rank: int) -> str:
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed; run without torchrun (one process)")
    if device.startswith("cuda"):
        if not torch.cuda.is_available() or not dist.is_nccl_available():
            raise DistributedError(
                f"--device {device} under torchrun needs CUDA and NCCL, and this torch has "
                f"{'no CUDA device' if not torch.cuda.is_available() else 'no NCCL'}; pass --device cpu (gloo)"
            )
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s) are visible; "
                "--nproc-per-node must not exceed the GPU count of a machine"
            )
        torch.cuda.set_device(local_rank)
        return "nccl"
    if not dist.is_gloo_available():
        raise DistributedError("the CPU backend gloo is not built into this torch; use CUDA (nccl) or one process")
    return "gloo"


def _context_of_group(environ) -> Context:
    import torch.distributed as dist

    env = os.environ if environ is None else environ
    rank, world = dist.get_rank(), dist.get_world_size()
    return Context(rank=rank, world_size=world, local_rank=int(env.get("LOCAL_RANK", rank)), backend=dist.get_backend())


def _object_group():
    """The group for pickled-object collectives: the default one with gloo; with nccl a gloo twin, so gathered
    predictions stay in host memory and waiting on rank 0's scoring does not trip NCCL's watchdog."""
    import torch.distributed as dist

    if dist.get_backend() == "gloo":
        return None
    if _state["object_group"] is None:
        _state["object_group"] = dist.new_group(backend="gloo", timeout=TIMEOUT)
    return _state["object_group"]


#: What a Slurm job's environment says about where and how it ran (harness.cluster submits such jobs through
#: submitit, whose batch script exports SUBMITIT_EXECUTOR=slurm), recorded under result.json's provenance.launcher.
SLURM_RECORD = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "node": "SLURMD_NODENAME",
    "partition": "SLURM_JOB_PARTITION",
    "tasks": "SLURM_NTASKS",
    "cpus_per_task": "SLURM_CPUS_PER_TASK",
    "gpus": "SLURM_GPUS_ON_NODE",
    "restarts": "SLURM_RESTART_COUNT",
}


def launcher_record(environ: os._Environ | dict[str, str] | None = None) -> dict[str, Any]:
    """How this process was launched: {"name": "local"}, or "slurm" with the job id, array index, node and
    resources of the job (provenance only: never part of a run's identity)."""
    env = os.environ if environ is None else environ
    if env.get("SUBMITIT_EXECUTOR") != "slurm" or "SLURM_JOB_ID" not in env:
        return {"name": "local"}
    record: dict[str, Any] = {"name": "slurm"}
    for key, var in SLURM_RECORD.items():
        value = env.get(var)
        record[key] = int(value) if value is not None and value.isdigit() and key != "job_id" else value
    return record


def chunk_order(shares: Sequence[dict[int, T]], count: int) -> list[T]:
    """Per-rank {chunk index: output} merged into one list in chunk order; every chunk exactly once."""
    merged: dict[int, T] = {}
    for share in shares:
        for index, part in share.items():
            if index in merged:
                raise DistributedError(f"chunk {index} was computed by two ranks (a sharding bug)")
            merged[index] = part
    missing = sorted(set(range(count)) - merged.keys())
    if missing:
        raise DistributedError(f"chunks {missing[:10]} were computed by no rank (a sharding bug)")
    return [merged[i] for i in range(count)]
