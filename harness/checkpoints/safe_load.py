"""Load MMPose checkpoints without executing code from them (DESIGN.md principle 9).

`.pth` files are read ONLY with `torch.load(weights_only=True)`; the globals their pickle may name are torch's own
allow-list plus `ALLOWED_GLOBALS` below (the harmless types real MMPose files carry in `meta`), added for the
duration of one load only. Anything else is refused with UnsafeCheckpointError before unpickling, and there is no
fallback to unrestricted unpickling anywhere in this project.

The format is read from the file's first bytes (harness.checkpoints.formats), not its name: a safetensors file saved
as `.pth` loads as safetensors, and an HTML page, an empty file or a plain pickle is refused with
CheckpointFormatError naming what it is.
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from harness.checkpoints.formats import LOADABLE, sniff
from harness.errors import CheckpointError, CheckpointFormatError, UnsafeCheckpointError

Format = Literal["mmpose", "bare", "safetensors"]

#: Prefix DataParallel/DistributedDataParallel adds to every key; mmcv checkpoints of MMPose are saved without it,
#: training checkpoints of user code sometimes with it.
MODULE_PREFIX = "module."


def _numpy_allow_list() -> list[tuple[object, str]]:
    """(object, name-in-the-pickle) pairs for numpy scalars, dtypes and arrays.

    Files written under numpy 1.x name `numpy.core.multiarray.*`; numpy 2 moved it to `numpy._core.multiarray`.
    Both names map to the current object, so no deprecated module is imported.
    """
    mult = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    pairs: list[tuple[object, str]] = []
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        pairs += [(mult.scalar, f"{mod}.scalar"), (mult._reconstruct, f"{mod}._reconstruct")]
    pairs += [(np.ndarray, "numpy.ndarray"), (np.dtype, "numpy.dtype")]
    # numpy >= 1.25 pickles dtypes as their class, e.g. numpy.dtypes.Float64DType.
    for name in dir(np.dtypes):
        obj = getattr(np.dtypes, name)
        if isinstance(obj, type) and issubclass(obj, np.dtype):
            pairs.append((obj, f"numpy.dtypes.{name}"))
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
              np.float16, np.float32, np.float64, np.complex64, np.complex128, np.str_, np.bytes_):  # fmt: skip
        pairs.append((t, f"numpy.{t.__name__}"))
    return pairs


#: Globals allowed beyond torch's defaults: plain containers and numpy scalar/array reconstruction. None of them can
#: run arbitrary code: they build values, and numpy's reconstructors only accept dtype/shape/bytes arguments.
ALLOWED_GLOBALS: list[tuple[object, str]] = [
    (collections.OrderedDict, "collections.OrderedDict"),
    (collections.defaultdict, "collections.defaultdict"),
    (dict, "builtins.dict"),
    (list, "builtins.list"),
    (tuple, "builtins.tuple"),
    (set, "builtins.set"),
    (frozenset, "builtins.frozenset"),
    (int, "builtins.int"),
    (float, "builtins.float"),
    (str, "builtins.str"),
    (bytes, "builtins.bytes"),
    (bool, "builtins.bool"),
    (slice, "builtins.slice"),
    *_numpy_allow_list(),
]
ALLOWED_NAMES = frozenset(name for _, name in ALLOWED_GLOBALS)

#: torch's refusal messages: "Unsupported global: GLOBAL a.b was not ..." / "unsupported GLOBAL a.b whose module ...".
_UNSUPPORTED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint's tensors and metadata.

    state_dict: key -> tensor, without any `module.` prefix. meta: the file's `meta` dict (mmcv) or the JSON meta of
    a safetensors file converted by this project; {} when absent. format: "mmpose" ({'state_dict', 'meta', ...}),
    "bare" (the file is a state_dict) or "safetensors". other_keys: top-level entries besides state_dict/meta
    (e.g. 'optimizer' in a training checkpoint); they are loaded safely and dropped.
    """

    state_dict: dict[str, torch.Tensor]
    meta: dict
    format: Format
    other_keys: tuple[str, ...] = field(default=())
    stripped_prefix: str | None = None


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    """Load an MMPose `.pth` (or a bare state_dict) or a `.safetensors` file safely, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: check the path, or fetch it first")
    try:
        sniffed = sniff(path)
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from exc
    if sniffed.kind not in LOADABLE or sniffed.damaged:
        raise CheckpointFormatError(f"{path} is {sniffed.describe()}. {_format_advice(sniffed.kind)}")
    if sniffed.kind == "safetensors":
        return _load_safetensors(path)
    obj = _torch_load_safely(path)
    if isinstance(obj, dict) and "state_dict" in obj:
        state_dict, meta, fmt = obj["state_dict"], obj.get("meta") or {}, "mmpose"
        others = tuple(sorted(str(k) for k in obj if k not in ("state_dict", "meta")))
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state_dict, meta, fmt, others = obj, {}, "bare", ()
    else:
        kind = type(obj).__name__
        keys = f" with top-level keys {sorted(map(str, obj))[:10]}" if isinstance(obj, dict) else ""
        raise CheckpointError(
            f"{path} holds a {kind}{keys}, not an MMPose checkpoint ({{'state_dict': ..., 'meta': ...}}) "
            "or a state_dict: pass a file saved from an MMPose model"
        )
    if not isinstance(meta, dict):
        meta = {"meta": meta}
    state_dict, stripped = _normalise_state_dict(state_dict, path)
    return LoadedCheckpoint(dict(state_dict), dict(meta), fmt, others, stripped)


def _format_advice(kind: str) -> str:
    if kind in ("empty", "html", "xml", "torch-zip", "torch-legacy"):
        return "Delete it and download it again (`python -m harness fetch ID`), or check the URL it came from."
    if kind == "git-lfs-pointer":
        return "Fetch the real file, then try again."
    return "Pass a .pth saved with torch.save (an MMPose checkpoint or a state_dict) or a .safetensors file."


def _torch_load_safely(path: Path) -> object:
    unsafe = _unsafe_globals(path)
    if unsafe:
        raise _unsafe_error(path, unsafe)
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _UNSUPPORTED_GLOBAL.findall(str(exc))
        if found:
            raise _unsafe_error(path, found) from exc
        # torch's own text suggests turning the protection off; keep only the lines that say what was refused.
        reason = " ".join(ln for ln in str(exc).splitlines() if ln.strip() and "weights_only" not in ln)
        raise UnsafeCheckpointError(
            f"{path} cannot be loaded safely ({reason or 'refused by the restricted unpickler'}). It was not loaded; "
            "re-save it from a trusted environment as a plain state_dict (or convert it to .safetensors there)"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]}): "
            "the file may be truncated; delete it and download it again"
        ) from exc


def _unsafe_globals(path: Path) -> list[str]:
    """Globals named in the pickle beyond the allow-list, found statically (no unpickling). [] if undeterminable:
    torch.load(weights_only=True) then still refuses them, and the message is parsed instead."""
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) format or a damaged file: torch.load reports it
        return []
    return sorted(g for g in found if g not in ALLOWED_NAMES)


def _unsafe_error(path: Path, names: list[str]) -> UnsafeCheckpointError:
    listed = ", ".join(sorted(set(names)))
    return UnsafeCheckpointError(
        f"refusing to load {path}: its pickle names global(s) outside the allow-list: {listed}. Unpickling them could "
        "execute code, so the file was NOT loaded. If you trust its origin, load it in a separate environment and "
        "re-save only {'state_dict': model.state_dict(), 'meta': <plain dict>} (or convert it to .safetensors); "
        "if the type is a harmless value type that real MMPose checkpoints carry, report it so it can be added to "
        "harness.checkpoints.safe_load.ALLOWED_GLOBALS"
    )


def _normalise_state_dict(state_dict: object, path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointError(f"{path}: 'state_dict' is empty or not a dict ({type(state_dict).__name__})")
    bad = [str(k) for k, v in state_dict.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: state_dict entries that are not tensors: {bad[:10]} ({len(bad)} in all)")
    if all(k.startswith(MODULE_PREFIX) for k in state_dict):
        return {k[len(MODULE_PREFIX) :]: v for k, v in state_dict.items()}, MODULE_PREFIX
    return dict(state_dict), None


def _load_safetensors(path: Path) -> LoadedCheckpoint:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            state_dict = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a Mapping)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}): convert it again") from exc
    try:
        meta = json.loads(metadata["meta"]) if "meta" in metadata else {}
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: safetensors metadata 'meta' is not JSON ({exc})") from exc
    state_dict, stripped = _normalise_state_dict(state_dict, path)
    return LoadedCheckpoint(state_dict, meta, "safetensors", (), stripped)
