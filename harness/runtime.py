"""Device and numeric settings of a run, always recorded in result.json (docs/PERFORMANCE.md):

- exact (default): fp32, the network as the reference runs it (NCHW, BN separate, no TF32, no cuDNN autotuning).
  Same inputs give the same predictions on every run, bit-identical to MMPose 0.29 at the same thread count.
- tuned: still fp32 and deterministic, but BN folded into the convolutions and the channels_last layout, which
  only changes the rounding order: proven to decode to the same keypoints as exact (scores within a few 1e-6
  relative) by tests/harness/perf/test_numeric_modes.py; no TF32, no autotuning.
- fast: tuned plus autocast (fp16 on CUDA, bf16 on the CPU, unless --amp-dtype says otherwise), TF32 and cuDNN
  autotuning; its AP drift is measured, never assumed, and the mode is part of every result's identity.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch

from harness.errors import HarnessError
from harness.modes import MODES, Mode

_AMP_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class RunSettings:
    device: str  # "cpu" or "cuda" / "cuda:N"
    mode: Mode = "exact"
    autocast_dtype: str | None = None  # "bfloat16" / "float16" in fast mode
    threads: int | None = None  # torch intra-op threads on CPU (None: torch's default)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise HarnessError(f"unknown numeric mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.autocast_dtype is not None and (self.mode != "fast" or self.autocast_dtype not in _AMP_DTYPES):
            raise HarnessError(
                f"autocast dtype {self.autocast_dtype!r} needs --mode fast and one of {', '.join(_AMP_DTYPES)}"
            )

    @property
    def tuned_layout(self) -> bool:
        """BN folded into the convolutions and channels_last (tuned and fast modes)."""
        return self.mode != "exact"

    def record(self) -> dict:
        """What goes into result.json: the settings plus the switches actually in force."""
        rec = asdict(self)
        rec["dtype"] = self.autocast_dtype or "float32"
        rec["channels_last"] = rec["fold_batchnorm"] = self.tuned_layout
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


def default_amp_dtype(device: str) -> str:
    """fast mode's autocast dtype: fp16 on CUDA (tensor cores; drift ~1e-4 AP on the demo model), bf16 on the CPU
    (fp16 convolutions are slower than fp32 on CPUs without native fp16; docs/PERFORMANCE.md)."""
    return "float16" if device.startswith("cuda") else "bfloat16"


def prepare_model(model: torch.nn.Module, settings: RunSettings) -> torch.nn.Module:
    """Move `model` to the run's device in eval mode, and in tuned/fast mode fold its BNs and make it channels_last
    (the inference code hands inputs over in the layout of the model's weights)."""
    from harness.models.fold import fold_batchnorm

    model = model.to(settings.device).eval()
    if settings.tuned_layout:
        model = fold_batchnorm(model).to(memory_format=torch.channels_last)
    return model


def apply(settings: RunSettings) -> None:
    """Set the global torch switches for this run (exact mode: TF32 off, no autotuning, deterministic cuDNN)."""
    fast = settings.mode == "fast"  # tuned keeps TF32 and autotuning off: fp32 and deterministic
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
