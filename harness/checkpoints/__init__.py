"""Checkpoint loading (safe, strict) and conversion. Downloads and the cache live in harness.checkpoints.store.

The names below are imported on first use (PEP 562): loading and conversion need torch, but `fetch` and the store
do not, and `python -m harness --help` imports every verb module (tests/harness/test_imports.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

#: public name -> the submodule that defines it
_LAZY = {
    "ConversionResult": "convert",
    "convert_to_safetensors": "convert",
    "sha256_of": "convert",
    "ALLOWED_GLOBALS": "safe_load",
    "LoadedCheckpoint": "safe_load",
    "load_checkpoint": "safe_load",
    "StateDictDiff": "strict",
    "StateDictMismatchError": "strict",
    "describe_diff": "strict",
    "diff_state_dict": "strict",
    "load_state_dict_strict": "strict",
}

__all__ = [  # noqa: RUF022 (kept in the order of _LAZY)
    "ConversionResult",
    "convert_to_safetensors",
    "sha256_of",
    "ALLOWED_GLOBALS",
    "LoadedCheckpoint",
    "load_checkpoint",
    "StateDictDiff",
    "StateDictMismatchError",
    "describe_diff",
    "diff_state_dict",
    "load_state_dict_strict",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # also how `from harness.checkpoints import store` falls through to the submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
