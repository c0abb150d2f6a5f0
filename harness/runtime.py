"""Device and numeric settings of a run: exact (default) or fast (opt-in), always recorded in result.json.

Exact mode keeps TF32 and cuDNN autotuning off so that the same inputs give the same predictions on every run
(issue 4 §6). Fast mode turns on TF32 and bf16/fp16 autocast; its AP drift is measured, never assumed.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from harness.errors import HarnessError

Mode = Literal["exact", "fast"]


@dataclass(frozen=True)
class RunSettings:
    device: str  # "cpu" or "cuda" / "cuda:N"
    mode: Mode = "exact"
    autocast_dtype: str | None = None  # "bfloat16" / "float16" in fast mode
    channels_last: bool = False
    threads: int | None = None  # torch intra-op threads on CPU (None: torch's default)

    def record(self) -> dict:
        """What goes into result.json: the settings plus the switches actually in force."""
        rec = asdict(self)
        rec["dtype"] = self.autocast_dtype or "float32"
        rec["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        rec["tf32_cudnn"] = bool(torch.backends.cudnn.allow_tf32)
        rec["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
        rec["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
        rec["torch_threads"] = torch.get_num_threads()
        if self.device.startswith("cuda") and torch.cuda.is_available():
            rec["device_name"] = torch.cuda.get_device_name(torch.device(self.device))
        return rec


def resolve_device(requested: str | None) -> str:
    """`None`/"auto": CUDA when present, else CPU. An explicit "cuda" without CUDA is an error, not a fallback."""
    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"--device {requested} was asked for, but torch sees no CUDA device; use --device cpu")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise HarnessError(f"unknown device {requested!r}; expected cpu, cuda or cuda:N")
    return requested


def apply(settings: RunSettings) -> None:
    """Set the global torch switches for this run (exact mode: TF32 off, no autotuning, deterministic cuDNN)."""
    fast = settings.mode == "fast"
    torch.backends.cuda.matmul.allow_tf32 = fast
    torch.backends.cudnn.allow_tf32 = fast
    torch.backends.cudnn.benchmark = fast
    torch.backends.cudnn.deterministic = not fast
    if settings.threads:
        torch.set_num_threads(settings.threads)


def autocast(settings: RunSettings) -> contextlib.AbstractContextManager:
    """The autocast context of the forward pass: a no-op in exact mode."""
    if settings.mode != "fast" or not settings.autocast_dtype:
        return contextlib.nullcontext()
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[settings.autocast_dtype]
    device_type = "cuda" if settings.device.startswith("cuda") else "cpu"
    return torch.autocast(device_type=device_type, dtype=dtype)
