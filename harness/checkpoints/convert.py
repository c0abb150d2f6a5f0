"""`.pth` -> `.safetensors`: tensors bit for bit, `meta` as a JSON string in the safetensors metadata."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.checkpoints.hashing import file_sha256
from harness.checkpoints.safe_load import load_checkpoint
from harness.errors import CheckpointError

#: safetensors metadata keys written here.
META_KEY = "meta"
FORMAT_KEY = "format"


@dataclass(frozen=True)
class ConversionResult:
    dst: Path
    source_sha256: str
    num_tensors: int


#: Hex SHA-256 of a file's bytes: the checkpoint store's streaming hash, one implementation for both.
sha256_of = file_sha256


def to_jsonable(obj: object) -> object:
    """meta -> JSON-compatible values: numpy scalars/arrays become Python numbers/lists; unknown types their str."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def convert_to_safetensors(
    src: str | os.PathLike, dst: str | os.PathLike, *, expected_sha256_prefix: str | None = None
) -> ConversionResult:
    """Write `src`'s state_dict (without `module.`) and meta to `dst` atomically.

    expected_sha256_prefix: the registry's 8-hex prefix (PROTOCOLS.md §6); the source must hash to it, else
    CheckpointError and nothing is written.
    """
    from safetensors.torch import save_file

    src, dst = Path(src), Path(dst)
    digest = sha256_of(src)
    if expected_sha256_prefix and not digest.startswith(expected_sha256_prefix.lower()):
        raise CheckpointError(
            f"{src} has sha256 {digest[:16]}..., expected prefix {expected_sha256_prefix}: the file is corrupt or "
            "not the published one; delete it and download it again (or omit the expected hash for your own file)"
        )
    loaded = load_checkpoint(src)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, tensor in loaded.state_dict.items():
        t = tensor.detach().contiguous()
        ptr = t.untyped_storage().data_ptr()
        # safetensors refuses tensors that share storage; a copy keeps the values bit for bit.
        tensors[key] = t.clone() if ptr in seen else t
        seen.add(ptr)
    metadata = {
        META_KEY: json.dumps(to_jsonable(loaded.meta), sort_keys=True),
        FORMAT_KEY: "mmpose",
        "source_sha256": digest,
        "source_name": src.name,
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, dst)  # DESIGN.md principle 9: only complete files appear under their final name
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ConversionResult(dst, digest, len(tensors))
