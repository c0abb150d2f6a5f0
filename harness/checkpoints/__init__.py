"""Checkpoint loading (safe, strict) and conversion; the cache, downloads and the run's check in `store`.

Modules, leaves first: hashing (streamed sha256, sidecar record) -> cache (paths, verify, publish, lock) -> download,
hub, torch_hub (sources) -> store (look-up, fetch, verified_for_run); formats (magic-byte sniffing) -> safe_load ->
strict, convert. The names below are loaded on first use (PEP 562), so `import harness.checkpoints` and the store import
without torch (`python -m harness --help` and `fetch` never need it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "ALLOWED_GLOBALS": "safe_load",
    "LoadedCheckpoint": "safe_load",
    "load_checkpoint": "safe_load",
    "ConversionResult": "convert",
    "convert_to_safetensors": "convert",
    "sha256_of": "convert",
    "StateDictDiff": "strict",
    "StateDictMismatchError": "strict",
    "describe_diff": "strict",
    "diff_state_dict": "strict",
    "load_state_dict_strict": "strict",
}

__all__ = [  # spelled out for linters; a test checks it equals the keys of _LAZY
    "ALLOWED_GLOBALS",
    "ConversionResult",
    "LoadedCheckpoint",
    "StateDictDiff",
    "StateDictMismatchError",
    "convert_to_safetensors",
    "describe_diff",
    "diff_state_dict",
    "load_checkpoint",
    "load_state_dict_strict",
    "sha256_of",
]

if TYPE_CHECKING:
    from harness.checkpoints.convert import ConversionResult, convert_to_safetensors, sha256_of
    from harness.checkpoints.safe_load import ALLOWED_GLOBALS, LoadedCheckpoint, load_checkpoint
    from harness.checkpoints.strict import (
        StateDictDiff,
        StateDictMismatchError,
        describe_diff,
        diff_state_dict,
        load_state_dict_strict,
    )


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
