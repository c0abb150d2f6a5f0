"""Strict state_dict loading with a report that names the likely cause of a mismatch.

mmcv's load_checkpoint is non-strict by default (PROTOCOLS.md §1.3): a head with the wrong keypoint count or a
backbone of the wrong width would load silently half-initialised. Here every key must match in name and shape,
and a tensor the model holds as floating point must be floating point in the file too: `load_state_dict` would
cast an int64 copy of a weight without a word, and the run would evaluate garbage (issue 13.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from harness.errors import StateDictMismatchError

#: How many keys of each kind an error lists before summarising with counts.
MAX_LISTED = 8


@dataclass(frozen=True)
class StateDictDiff:
    """Differences between a model's state_dict and a checkpoint's. Shapes are tuples, dtypes torch's names."""

    missing: tuple[str, ...]  # in the model, not in the checkpoint
    unexpected: tuple[str, ...]  # in the checkpoint, not in the model
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # (key, model shape, checkpoint shape)
    #: (key, model dtype, checkpoint dtype) where the model's tensor is floating point and the file's is not.
    wrong_dtype: tuple[tuple[str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.wrong_dtype)

    def to_dict(self) -> dict:
        return {
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": [{"key": k, "model": list(m), "checkpoint": list(c)} for k, m, c in self.mismatched],
            "wrong_dtype": [{"key": k, "model": m, "checkpoint": c} for k, m, c in self.wrong_dtype],
        }


def diff_state_dict(model_sd: Mapping[str, torch.Tensor], ckpt_sd: Mapping[str, torch.Tensor]) -> StateDictDiff:
    """Compare key sets, shapes and kinds of dtype (keys in the model's order).

    Only floating point vs not is compared: float16/bfloat16 weights load into a float32 model exactly as published
    (a widening cast), while integer or bool values where the model has floats are never weights.
    """
    missing = tuple(k for k in model_sd if k not in ckpt_sd)
    unexpected = tuple(k for k in ckpt_sd if k not in model_sd)
    mismatched = tuple(
        (k, tuple(v.shape), tuple(ckpt_sd[k].shape))
        for k, v in model_sd.items()
        if k in ckpt_sd and tuple(v.shape) != tuple(ckpt_sd[k].shape)
    )
    wrong_dtype = tuple(
        (k, _dtype_name(v.dtype), _dtype_name(ckpt_sd[k].dtype))
        for k, v in model_sd.items()
        if k in ckpt_sd and v.dtype.is_floating_point and not ckpt_sd[k].dtype.is_floating_point
    )
    return StateDictDiff(missing, unexpected, mismatched, wrong_dtype)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> StateDictDiff:
    """Copy `state_dict` into `model` only if keys and shapes match exactly and every floating-point tensor of the
    model is floating point in the file; else raise StateDictMismatchError.

    Floating-point values are cast to the model's dtypes by `load_state_dict`. Returns the (empty) diff on success.
    """
    diff = diff_state_dict(model.state_dict(), state_dict)
    if not diff.ok:
        raise StateDictMismatchError(describe_diff(diff, state_dict), diff)
    model.load_state_dict(state_dict, strict=True)
    return diff


def describe_diff(diff: StateDictDiff, ckpt_sd: Mapping[str, torch.Tensor] | None = None) -> str:
    """A message: the likely cause first, then counts and the (truncated) key lists with shapes."""
    parts = [
        f"checkpoint does not fit the architecture: {len(diff.missing)} missing, {len(diff.unexpected)} unexpected, "
        f"{len(diff.mismatched)} mis-shaped key(s)"
        + (
            f", {len(diff.wrong_dtype)} of a non-floating dtype where the model has floats."
            if diff.wrong_dtype
            else "."
        )
    ]
    causes = likely_causes(diff, ckpt_sd)
    if causes:
        parts.append("Likely cause: " + " ".join(causes))
    parts.append(_listing("missing (in the model, not in the file)", diff.missing))
    parts.append(_listing("unexpected (in the file, not in the model)", diff.unexpected))
    shaped = [f"{k}: model {tuple(m)} vs checkpoint {tuple(c)}" for k, m, c in diff.mismatched]
    parts.append(_listing("mis-shaped", shaped))
    typed = [f"{k}: model {m} vs checkpoint {c}" for k, m, c in diff.wrong_dtype]
    parts.append(_listing("non-floating where the model has floats", typed))
    parts.append(
        "Check that the registry entry (or --checkpoint) matches this file: width, head type and keypoint count."
    )
    return "\n".join(p for p in parts if p)


def _listing(title: str, items: tuple[str, ...] | list[str]) -> str:
    if not items:
        return ""
    shown = "\n".join(f"    {i}" for i in items[:MAX_LISTED])
    more = f"\n    ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"  {title}: {len(items)}\n{shown}{more}"


def likely_causes(diff: StateDictDiff, ckpt_sd: Mapping[str, torch.Tensor] | None = None) -> list[str]:
    """Heuristics naming the usual reasons, most specific first."""
    causes: list[str] = []
    if diff.wrong_dtype:
        kinds = sorted({c for _, _, c in diff.wrong_dtype})
        causes.append(
            f"the file holds {'/'.join(kinds)} values where the model has floating-point weights: it was saved with "
            "the wrong dtype (e.g. a .long() or .int() cast) and would be cast back silently to wrong weights; "
            "re-save the weights as floats."
        )
    backbone_shapes = [m for m in diff.mismatched if m[0].startswith("backbone.")]
    if backbone_shapes:
        width = _width_of(ckpt_sd) if ckpt_sd is not None else None
        hint = f" (the file's backbone has width {width})" if width else ""
        causes.append(f"wrong HRNet width: {len(backbone_shapes)} backbone shapes differ{hint}.")
    for key, model_shape, ckpt_shape in diff.mismatched:
        if (
            key.startswith("keypoint_head.final_layer")
            and key.endswith(".weight")
            and model_shape[1:] == ckpt_shape[1:]
        ):
            causes.append(
                f"wrong keypoint count: head {key} has shape ({ckpt_shape[0]}, ...) in the file vs "
                f"({model_shape[0]}, ...) in the model (AE heads hold 2K channels: heatmaps then tags)."
            )
            break
    unexpected_fuse = [k for k in diff.unexpected if ".stage4." in f".{k}" and ".fuse_layers." in k]
    if unexpected_fuse and not backbone_shapes:
        causes.append(
            "the file's last stage-4 module fuses into every branch (multi-scale HRNet, e.g. a classification "
            "backbone); the pose HRNet keeps only fuse_layers.0 (PROTOCOLS.md §1.1)."
        )
    heads = {k.split(".")[1] for k in (*diff.missing, *diff.unexpected) if k.startswith("keypoint_head.")}
    if {"final_layer", "final_layers"} <= heads or "deconv_layers" in heads:
        causes.append("wrong head type: top-down/AE heads have `final_layer`, HigherHRNet has `final_layers` + "
                      "`deconv_layers`.")  # fmt: skip
    if diff.unexpected and not any(k.startswith(("backbone.", "keypoint_head.")) for k in diff.unexpected):
        sample = diff.unexpected[0]
        causes.append(
            f"the file's keys are not MMPose PoseNet keys (e.g. {sample!r}): expected `backbone.*` and "
            "`keypoint_head.*`; a bare backbone or another framework's file needs converting first."
        )
    elif diff.missing and not diff.unexpected and not diff.mismatched:
        causes.append("the file is incomplete (keys missing, nothing extra): it may be truncated or a partial save.")
    return causes


def _width_of(sd: Mapping[str, torch.Tensor]) -> int | None:
    # transition1.0.0 is the 3x3 conv 256 -> C of branch 0 (PROTOCOLS.md §1.1).
    w = sd.get("backbone.transition1.0.0.weight")
    return int(w.shape[0]) if w is not None and w.ndim == 4 else None
