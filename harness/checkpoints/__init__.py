"""Checkpoint loading (safe, strict) and conversion. Downloads and the cache live in harness.checkpoints.store."""

from harness.checkpoints.convert import ConversionResult, convert_to_safetensors, sha256_of
from harness.checkpoints.safe_load import ALLOWED_GLOBALS, LoadedCheckpoint, load_checkpoint
from harness.checkpoints.strict import (
    StateDictDiff,
    StateDictMismatchError,
    describe_diff,
    diff_state_dict,
    load_state_dict_strict,
)

__all__ = [
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
