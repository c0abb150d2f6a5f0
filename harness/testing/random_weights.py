"""Seeded random weights in MMPose's checkpoint format, for tests and parity runs (PARITY.md "The oracle environment").

Plain random init makes HRNet's activations explode through its depth: batch-norm statistics are
therefore recalibrated on seeded random inputs (train mode, momentum=None = cumulative average), then frozen (eval),
so heatmaps stay of order one and comparisons with the oracle are meaningful.

Random heatmaps of order one still put hundreds of pixels of every joint above bottom-up's detection threshold
(0.1), and random tags make each candidate its own person, so grouping dominates a bottom-up run;
`limit_heatmap_peaks_` lowers the heatmap channels' bias so that only a realistic few candidates remain.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.models import build_model
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


def stage_mean_heatmaps(model: nn.Module, x: torch.Tensor, *, num_keypoints: int) -> torch.Tensor:
    """model(x) -> heatmaps [N, K, H, W]: the mean over output stages of their first K channels, each resized
    (bilinear) to the last stage's size. One stage (top-down, Associative Embedding): its heatmaps as they are."""
    out = model(x)
    stages = [out] if isinstance(out, torch.Tensor) else list(out)
    size = stages[-1].shape[-2:]
    maps = [s[:, :num_keypoints].float() for s in stages]
    maps = [m if m.shape[-2:] == size else nn.functional.interpolate(m, size, mode="bilinear") for m in maps]
    return torch.stack(maps).mean(dim=0)


@torch.no_grad()
def limit_heatmap_peaks_(
    model: nn.Module,
    images: Sequence[Any],
    *,
    num_keypoints: int,
    fraction: float = 5e-4,
    threshold: float = 0.1,
    heatmaps: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    flip_index: Sequence[int] | None = None,
) -> tuple[float, torch.Tensor]:
    """Scale the head's heatmap channels to |h| <= 1, then lower the heatmap bias of its LAST final 1x1 conv so that,
    over `images`, only about `fraction` of each joint's heatmap pixels exceed `threshold`; tags are untouched.
    Returns (scale, shift): the aggregated heatmaps become scale * before + shift ([K] float32; the last bias moved
    by shift times the number of output stages). `model` (a PoseNet) is changed in place and left in eval mode.

    images: the items handed to `heatmaps`, one at a time (default: model inputs [N, 3, H, W], sizes may differ).
    heatmaps(model, item) -> [N, K, H, W]: the maps the detector thresholds; it must be an average in which every
    output stage weighs 1 / num_stages, as bottom-up aggregation is (flip, stage and scale averages with bilinear
    resizes, PROTOCOLS.md §4, §7; e.g. `lambda m, img: aggregate_image(m, img, protocol=p, schema=s,
    input_size=512)[0]`). Default: `stage_mean_heatmaps`.
    flip_index: give the schema's when `heatmaps` averages in a flipped pass (bottom-up flip test, PROTOCOLS.md §4):
    joint j's map then also holds its mirror partner's channel, so no bias can move the two apart; each pair gets
    one shift, chosen on both joints' pixels (about 2 * fraction of the pair's pixels exceed, shared unevenly).

    Layers: the scale multiplies the heatmap channels (weights and bias) of every final conv (top-down
    `final_layer`'s K; Associative Embedding the first K of `final_layer`'s 2K; HigherHRNet the first K of both
    `final_layers`), and HigherHRNet's deconvolution divides its input weights of stage 0's heatmap channels by it, so
    the features and tags stay what they were. The shift moves the LAST conv's heatmap bias: such an average moves
    by exactly d / num_stages when the last stage's bias moves by d, which is then the last layer in the network
    (shifting `final_layers.0` would change stage 1 non-linearly through the deconvolution). Per joint, the shift
    puts `threshold` midway between the value that `round(fraction * pixels)` pixels exceed and the next one up
    (pixels counted over all images).

    Why: BN-calibrated random weights (`calibrate_bn_`) give heatmaps of order one (up to ~1e3 at bottom-up sizes),
    so hundreds of NMS peaks per joint pass the bottom-up detection threshold, random tags give each its own group
    (MMPose 0.29 has no group limit) and grouping takes minutes per image. After the shift a random model yields a
    realistic number of candidates and persons. Scaling first keeps the detected peaks from being differences of two
    large numbers, and the midway threshold keeps float noise of the measuring forward (e.g. the thread count) from
    changing which pixels pass, so the golden runs stay repeatable across thread counts.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    items = list(images)
    if not items:
        raise ValueError("limit_heatmap_peaks_ needs at least one image")
    head = getattr(model, "keypoint_head", None)
    if head is None:
        raise ValueError(f"expected a PoseNet with a keypoint_head, got {type(model).__name__}")
    convs = list(head.final_layers) if hasattr(head, "final_layers") else [head.final_layer]
    last = convs[-1]
    if last.bias is None or last.bias.shape[0] < num_keypoints:
        raise ValueError(f"the head's last final conv has no bias of at least {num_keypoints} channels")
    if heatmaps is None:
        heatmaps = functools.partial(stage_mean_heatmaps, num_keypoints=num_keypoints)
    model.eval()
    maps = [heatmaps(model, item).float() for item in items]
    values = torch.cat([m.transpose(0, 1).reshape(num_keypoints, -1) for m in maps], dim=1)  # [K, all pixels]
    if flip_index is not None:
        if sorted(flip_index) != list(range(num_keypoints)):
            raise ValueError(f"flip_index {list(flip_index)} is not a permutation of 0..{num_keypoints - 1}")
        values = torch.cat([values, values[list(flip_index)]], dim=1)  # rows j and flip_index[j]: the same pixels
    # 1. Scale the heatmaps to |h| <= 1 first. At bottom-up sizes they reach ~1e3; shifting such maps down to the
    #    threshold would leave the detected peaks as differences of two ~1e3 numbers, whose float32 rounding (it
    #    moves with the thread count) is ~1e-3 of a 0.1 peak: enough to move a candidate across the threshold.
    scale = 1.0 / max(float(values.abs().max()), 1.0)
    _scale_heatmaps_(head, convs, num_keypoints, scale)
    values = values * scale
    # 2. Per joint, put the threshold midway between the value that `above` pixels exceed and the next one up, so
    #    that float noise smaller than half that gap cannot change which pixels pass.
    above = max(1, round(fraction * values.shape[1]))
    # kthvalue: exact selection (no interpolation, and no input size limit as torch.quantile has).
    n = values.shape[1]
    low = torch.kthvalue(values, n - above, dim=1).values
    high = torch.kthvalue(values, n - above + 1, dim=1).values
    shift = threshold - (low + high) / 2
    last.bias[:num_keypoints] += (shift * len(convs)).to(last.bias.dtype)
    return scale, shift


def _scale_heatmaps_(head: nn.Module, convs: list[nn.Module], num_keypoints: int, scale: float) -> None:
    """Multiply every output stage's heatmap channels by `scale` without changing anything else the head computes:
    HigherHRNet's deconvolution reads stage 0's heatmaps (cat_output, feature first), so its input weights for those
    channels are divided by `scale` (PROTOCOLS.md §1.2)."""
    k = num_keypoints
    for conv in convs:
        conv.weight[:k] *= scale
        conv.bias[:k] *= scale
    deconv_layers = getattr(head, "deconv_layers", None)
    if deconv_layers is not None:
        deconv = deconv_layers[0][0][0]  # ConvTranspose2d, weight [in = C + 2K, out, kh, kw]
        c = deconv.in_channels - 2 * k
        deconv.weight[c : c + k] /= scale


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
