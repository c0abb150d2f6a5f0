"""MMPose 0.x's `fp16` test setting, reproduced (PROTOCOLS.md §3.2).

With a config's `fp16`, MMPose 0.x `tools/test.py` calls mmcv's `wrap_fp16_model`; on torch >= 1.6 that only sets
`fp16_enabled`, and the detector's `@auto_fp16(apply_to=('img',))` forward then casts the input to half and runs
under CUDA autocast, returning the half outputs (out_fp32 False). For a network of convolutions, batch norms, ReLUs,
additions and nearest upsampling (HRNet with a heatmap head), autocast runs every convolution with half inputs and
half copies of its weights, and the batch norms (on autocast's lists neither way) with half inputs and their float32
parameters: the same arithmetic as the network in half with its normalisation layers kept in float32, which is
what this module builds, on any device (the batch norms must not be folded into the convolutions first).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)


class HalfPrecision(nn.Module):
    """`model` in half with its normalisation layers in float32; float inputs are cast to half, outputs stay half."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).half()
        for m in self.model.modules():
            if isinstance(m, _NORMS):
                m.float()

    def forward(self, x: torch.Tensor):
        return self.model(x.half() if x.is_floating_point() else x)


def half_precision(model: nn.Module) -> nn.Module:
    """A half-precision copy of `model` (the original is left as it is); a model that is not an nn.Module (test
    stand-ins that compute heatmaps from the ground truth) is returned unchanged."""
    return HalfPrecision(model) if isinstance(model, nn.Module) else model
