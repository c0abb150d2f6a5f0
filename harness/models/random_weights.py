"""Seeded random weights in MMPose's checkpoint format, for tests, parity runs and benchmarks (PARITY.md "The oracle
environment").

Plain random init makes HRNet's activations explode through its depth: batch-norm statistics are
therefore recalibrated on seeded random inputs (train mode, momentum=None = cumulative average), then frozen (eval),
so heatmaps stay of order one and comparisons with the oracle are meaningful. (The golden tests also thin out a
random bottom-up model's heatmap peaks: tests/helpers/heatmap_peaks.py.)
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harness.models.posenet import build_model
from zoo.registry.schema import Architecture

#: Forward passes used to recalibrate batch-norm statistics.
CALIBRATION_STEPS = 3
CALIBRATION_BATCH = 2


def randomize_(model: nn.Module, *, seed: int) -> nn.Module:
    """Re-initialise every parameter from a seeded generator, in state_dict order (reproducible across machines).

    Convs: normal(0, sqrt(2 / fan_out)) (as MMPose's HRNet init), except the head's final 1x1 convs: normal(0,
    sqrt(1 / fan_in)), bias N(0, 0.01). BN weight U(0.5, 1.5), bias N(0, 0.1), so that every parameter matters in a
    parity test. Running stats are reset.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                w = module.weight
                # ConvTranspose2d stores (in, out, kh, kw): its fan-out is dim 0.
                fan_out = (w.shape[1] if isinstance(module, nn.Conv2d) else w.shape[0]) * w[0, 0].numel()
                # The head's final 1x1 convs (the only convs with a bias) keep their output at the feature's scale.
                fan_in = w.shape[1] * w[0, 0].numel()
                std = (1.0 / fan_in) ** 0.5 if module.bias is not None else (2.0 / fan_out) ** 0.5
                w.copy_(torch.randn(w.shape, generator=gen) * std)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.01)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
    return model


def calibrate_bn_(
    model: nn.Module, *, seed: int, input_size: tuple[int, int], steps: int = CALIBRATION_STEPS
) -> nn.Module:
    """Recompute BN running statistics over `steps` seeded random batches [B, 3, H, W] (input_size = (H, W)).

    momentum=None makes each BN keep the plain average over the passes; the model ends in eval mode with the
    momenta restored. `num_batches_tracked` ends at `steps` for every BN, like a (short) real training run.
    """
    gen = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn((CALIBRATION_BATCH, 3, *input_size), generator=gen))
    for bn, momentum in zip(bns, momenta, strict=True):
        bn.momentum = momentum
    return model.eval()


def make_random_model(
    arch: Architecture, *, seed: int, calibrate_bn: bool = True, input_size: tuple[int, int] | None = None
) -> nn.Module:
    """A PoseNet with seeded random weights (see `make_random_checkpoint`), in eval mode."""
    model = randomize_(build_model(arch), seed=seed)
    if calibrate_bn:
        calibrate_bn_(model, seed=seed, input_size=tuple(input_size or arch.input_size))
    return model.eval()


def make_random_checkpoint(
    arch: Architecture,
    path: str | os.PathLike,
    *,
    seed: int,
    calibrate_bn: bool = True,
    input_size: tuple[int, int] | None = None,
) -> Path:
    """Write `{'state_dict': ..., 'meta': {...}}` with torch.save, as mmcv's save_checkpoint does.

    input_size (H, W) of the calibration batches defaults to arch.input_size; small sizes (e.g. (64, 64)) keep it
    fast and must be multiples of 32. `meta` carries numpy scalars, as real MMPose files do (mmcv hook_msgs).
    """
    model = make_random_model(arch, seed=seed, calibrate_bn=calibrate_bn, input_size=input_size)
    state_dict = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "mmcv_version": "1.7.0",
        "time": _dt.datetime(2021, 1, 1).strftime("%c"),
        "epoch": np.int64(210),
        "iter": 210,
        "seed": np.int64(seed),
        "hook_msgs": {"best_score": np.float64(0.5), "last_ckpt": "epoch_210.pth"},
        "random_weights": {"seed": seed, "calibrate_bn": calibrate_bn, "width": arch.width, "head": arch.head},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state_dict, "meta": meta}, path)
    return path
