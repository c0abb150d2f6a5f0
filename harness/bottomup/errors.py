"""Errors of the bottom-up pipeline. Subclasses of the harness root, so `except HarnessError` catches them."""

from __future__ import annotations

from harness.errors import HarnessError, ModelOutputError

__all__ = ["BottomUpConfigError", "ModelOutputError"]


class BottomUpConfigError(HarnessError, ValueError):
    """Bottom-up settings that the protocol cannot run (scales, sizes, flip index, thresholds)."""
