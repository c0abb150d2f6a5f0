"""Fold every eval-mode BatchNorm into the convolution that feeds it (the `tuned` and `fast` numeric modes).

conv -> BN(eval) is one affine map per output channel, so conv' = conv with weight * gamma/sqrt(var+eps) and bias
beta - mean*gamma/sqrt(var+eps) computes the same function with one pass over the activations instead of two. The
arithmetic is torch's own (`torch.nn.utils.fusion.fuse_conv_bn_eval`); only the rounding order changes, so the
result is not bit-identical to the unfolded net: tests/harness/models/test_fold.py bounds the difference and
tests/harness/perf/test_numeric_modes.py proves the decoded predictions equal (docs/PERFORMANCE.md).

Which conv feeds which BN is read from the module structure, never guessed from tensor shapes:
- a module with children `convN` and `bnN` (timm's stem, BasicBlock, Bottleneck: forward runs bnN right after convN);
- consecutive `Conv2d`/`ConvTranspose2d`, `BatchNorm2d` children of an `nn.Sequential` (downsample, transitions,
  fuse layers, the HigherHRNet deconv).
Anything else holding a BatchNorm2d is an error (a structure this code has not been checked against), not a silent
partial fold.
"""

from __future__ import annotations

import itertools
import re

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from harness.errors import FoldError

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_NUMBERED_BN = re.compile(r"bn(\d+)$")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold, in place, every BatchNorm2d of an eval-mode `model` into its convolution; returns `model`.

    Folded BN slots become `nn.Identity()` so the modules' forward code runs unchanged. Raises FoldError when a
    BatchNorm2d is left over, or when the model is in training mode (folding uses the running statistics)."""
    if model.training:
        raise FoldError("fold_batchnorm needs an eval-mode model (it folds the running statistics): call .eval()")
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            _fold_sequential(module)
        else:
            _fold_numbered(module)
    left = [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise FoldError(
            f"{len(left)} BatchNorm2d module(s) not folded ({', '.join(left[:5])}): their convolution could not be "
            "identified from the module structure; run this model in --mode exact"
        )
    return model


def _fuse(conv: nn.Module, bn: nn.BatchNorm2d) -> nn.Module:
    return fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))


def _fold_sequential(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for first, second in itertools.pairwise(names):
        conv, bn = seq._modules[first], seq._modules[second]
        if isinstance(conv, _CONVS) and isinstance(bn, nn.BatchNorm2d):
            seq._modules[first] = _fuse(conv, bn)
            seq._modules[second] = nn.Identity()


def _fold_numbered(module: nn.Module) -> None:
    for name, bn in list(module._modules.items()):
        match = _NUMBERED_BN.match(name)
        if not (match and isinstance(bn, nn.BatchNorm2d)):
            continue
        conv = module._modules.get(f"conv{match.group(1)}")
        if isinstance(conv, _CONVS):
            setattr(module, f"conv{match.group(1)}", _fuse(conv, bn))
            setattr(module, name, nn.Identity())
