"""What a Slurm job runs: one row, on its node. Pickled by submitit with everything it needs (the spec as the
submitter resolved it, the registry, the hashes of the input files), so a node never re-reads the submitter's
options.

Before the first forward pass the job hashes, on its own node, every input file the submitter hashed (annotations,
box file) and refuses to run on other bytes, naming the file; the engine then verifies the checkpoint in full
(harness.engine.verify_published). With several tasks, submitit's TorchDistributedEnvironment exports RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT from Slurm's environment, and the engine shares the chunks out
as under torchrun (harness.distributed), rank 0 writing. RowJob is submitit Checkpointable: on preemption or at
the time limit the job is requeued with the same call, and the requeued job resumes from the chunks on disk.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from harness.checkpoints.hashing import file_sha256
from harness.errors import DataError
from zoo import settings


@dataclass(frozen=True)
class JobRequest:
    spec: Any  # harness.spec.EvalSpec, resolved for the job's device and threads
    registry: Any  # zoo.registry.schema.Registry
    out_dir: Path
    run_key: str  # what the submitter expects the run to be keyed by
    inputs: dict[str, str]  # {path: sha256} of the annotation and box files as the submitter read them
    #: (part, parts) when the row is split over several jobs (harness.chunks.part_range), else None
    part: tuple[int, int] | None = None


class RowJob(submitit.helpers.Checkpointable):
    """The callable of one array element (submitit pickles it; checkpoint() resubmits the same call)."""

    def __init__(self, request: JobRequest) -> None:
        self.request = request

    def __call__(self) -> dict:
        env = submitit.JobEnvironment()
        if env.num_tasks > 1:
            # Every GPU of the node stays visible: the engine picks cuda:LOCAL_RANK (harness.distributed).
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        return run_row(self.request)


def run_row(request: JobRequest) -> dict:
    """Verify the inputs on this node, then evaluate (resuming from the row's chunks) and write the run's files."""
    from harness import distributed
    from harness.engine import run_evaluation

    verify_inputs(request.inputs)
    _hold_after_first_chunk(request)
    try:
        if request.part is not None:
            return run_part(request)
        outcome = run_evaluation(
            request.spec, registry=request.registry, out_dir=request.out_dir, progress=False, replace_other_runs=True
        )
    finally:
        distributed.shutdown()
    return {
        "row_id": request.spec.result.row_id,
        "run_key": outcome.record.run_key,
        "reused_chunks": outcome.reused_chunks,
        "computed_chunks": outcome.computed_chunks,
        "node": socket.gethostname(),
    }


def run_part(request: JobRequest) -> dict:
    """One job of a row split over several jobs: compute its range of the row's chunks, then, if every chunk of
    the row is now on disk, gather them into the run's files (harness.engine.run_evaluation with reuse_only: only
    chunks of this run identity are combined, every one must be there). The jobs of a row finish in any order:
    under a lock in the run folder, the first to find every chunk there gathers, the others find the run complete."""
    import contextlib

    from harness import distributed, locks
    from harness.chunks import ChunkStore
    from harness.cluster.plan import complete
    from harness.engine import compute_part, run_evaluation

    spec, out_dir = request.spec, request.out_dir
    part, parts = request.part
    done = compute_part(spec, registry=request.registry, out_dir=out_dir, part=part, parts=parts)
    ctx = distributed.setup(device=spec.settings.device)
    lock = (
        locks.exclusive(out_dir / ".gather.lock", waiting="waiting for another job of this row", unwritable=None)
        if ctx.is_main
        else contextlib.nullcontext()
    )
    with lock:
        ready = not complete(out_dir, request.run_key) and not ChunkStore(done.chunk_folder).missing(done.chunk_count)
        gathered = ctx.broadcast(ctx.is_main and ready)
        if gathered:
            run_evaluation(spec, registry=request.registry, out_dir=out_dir, progress=False, replace_other_runs=True,
                           reuse_only=True)  # fmt: skip
    return {
        "row_id": spec.result.row_id,
        "run_key": request.run_key,
        "part": [part, parts],
        "chunks": [done.indices[0], done.indices[-1] + 1] if done.indices else [],
        "reused_chunks": done.reused_chunks,
        "computed_chunks": done.computed_chunks,
        "gathered": gathered,
        "node": socket.gethostname(),
    }


def verify_inputs(inputs: dict[str, str]) -> None:
    """Refuse to run on input files whose bytes differ from what the submitter hashed (a node with other data)."""
    node = socket.gethostname()
    for path, expected in inputs.items():
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise DataError(f"{path} cannot be read on node {node} ({exc.strerror or exc}); nothing was run") from None
        if actual != expected:
            raise DataError(
                f"{path} on node {node} is not the file the job was submitted with (sha256 {actual[:16]}..., "
                f"expected {expected[:16]}...): this node has other data; nothing was run. Make the data the same "
                "on every node (python -m harness data check) and submit again"
            )


def _hold_after_first_chunk(request: JobRequest) -> None:
    """The cluster tests' deterministic interruption (settings.TEST_HOLD): after its first computed chunk is saved,
    the job writes FOLDER/<row>.held and sleeps until it is cancelled, unless that file already exists (then it
    runs through, as a resumed job does)."""
    folder = settings.TEST_HOLD.raw()
    if not folder:
        return
    from harness.chunks import ChunkStore

    marker = Path(folder) / (request.spec.result.row_id.replace("/", "__") + ".held")
    if marker.exists():
        return

    def held(save):
        def save_then_hold(self, *args, **kwargs):
            save(self, *args, **kwargs)
            marker.write_text("held after the first chunk\n")
            while True:
                time.sleep(1)

        return save_then_hold

    ChunkStore.save_topdown = held(ChunkStore.save_topdown)  # type: ignore[method-assign]
    ChunkStore.save_json = held(ChunkStore.save_json)  # type: ignore[method-assign]


def for_node(spec, *, device: str, threads: int, workers_given: bool):
    """The spec a job runs: the device of its resources (the submitter may have no GPU), torch threads = its CPUs
    per task, and bottom-up grouping workers within those CPUs unless --workers said otherwise."""
    from harness import runtime
    from harness.spec import default_workers

    mode = spec.settings.mode
    amp = spec.settings.autocast_dtype
    if mode == "fast" and device != spec.settings.device and amp == runtime.default_amp_dtype(spec.settings.device):
        amp = runtime.default_amp_dtype(device)  # the default follows the device; an explicit one stays
    run_settings = dataclasses.replace(spec.settings, device=device, threads=threads, autocast_dtype=amp)
    workers = spec.num_workers
    if not workers_given:
        workers = default_workers(spec.protocol.paradigm, device)
        if spec.protocol.paradigm == "bottomup":
            workers = min(workers, max(0, threads - 1))
    return dataclasses.replace(spec, settings=run_settings, num_workers=workers)
