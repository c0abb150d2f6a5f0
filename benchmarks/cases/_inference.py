"""Helpers shared by the inference cases (top-down crops, bottom-up images): sample data, seeded MMPose-format
weights that both sides load, the thread count, fast-mode settings, and the reference (oracle) runner."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.suite import BenchContext
from zoo import settings

#: The sample data the test suite reads too (tests/data/samples, with its provenance): the benchmarks run from a
#: checkout, which always has it.
SAMPLES = settings.REPO / "tests" / "data" / "samples"


class BenchInputError(RuntimeError):
    """A benchmark input (the sample data) is missing; the case becomes an error row."""


def samples(folder: str) -> Path:
    path = SAMPLES / folder
    if not path.is_dir():
        raise BenchInputError(f"{path} is absent: the benchmarks run from a full checkout of the repository")
    return path


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch intra-op threads for the timed block (the reference is given the same number), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: The settings of `--mode fast` on the CPU; `build(mode="fast")` prepares the model for them.
FAST_CPU = "bfloat16"


def fast_mode() -> contextlib.AbstractContextManager:
    """What `--mode fast` adds on the CPU to the tuned model, from the harness itself: its bf16 autocast."""
    from harness.runtime import RunSettings, autocast

    return autocast(RunSettings(device="cpu", mode="fast", autocast_dtype=FAST_CPU))


def random_checkpoint(ctx: BenchContext, entry_id: str, *, calib_size: tuple[int, int]) -> Path:
    """Seeded random MMPose-format weights of a registry entry's architecture, BN recalibrated
    (PARITY.md "The oracle environment"); made once per working folder. Both sides load this very file."""
    from harness.models.random_weights import make_random_checkpoint
    from zoo.registry.load import load_registry

    path = ctx.workdir / f"{entry_id}-seed{ctx.seed}.pth"
    if not path.is_file():
        arch = load_registry().entry(entry_id).architecture
        make_random_checkpoint(arch, path, seed=ctx.seed, input_size=calib_size)
    return path


def build(entry_id: str, checkpoint: Path, *, mode: str = "exact") -> torch.nn.Module:
    """The entry's network with `checkpoint`, prepared for a numeric mode exactly as `evaluate --mode` does
    (exact: as loaded; tuned/fast: BN folded + channels_last; harness.runtime.prepare_model)."""
    from harness.models.entry import build_from_entry
    from harness.runtime import RunSettings, prepare_model

    settings = RunSettings(device="cpu", mode=mode, autocast_dtype=FAST_CPU if mode == "fast" else None)
    return prepare_model(build_from_entry(entry_id, checkpoint=checkpoint), settings)


def run_reference(ctx: BenchContext, name: str, *args: object, repeats: int) -> dict[str, Any]:
    """oracle/bench_inference.py with the given arguments; {"skipped": why} without the oracle venv."""
    from harness.oracle import oracle_python, run_oracle

    if oracle_python() is None:
        return {"skipped": "oracle venv not built (python oracle/build_env.py)"}
    out = ctx.workdir / f"reference-{name}"
    run_oracle("bench_inference", *args, "--threads", ctx.threads, "--repeat", repeats, "--out", out,
               timeout=3600, niceness=0)  # fmt: skip
    bench = json.loads((out / "bench.json").read_text())
    with np.load(out / "outputs.npz") as z:
        bench["outputs"] = {k: z[k] for k in z.files}
    return bench
