"""Thin out a random model's heatmap peaks for the golden tests (tests/golden/cases.py).

Random heatmaps of order one (harness/models/random_weights.py) still put hundreds of pixels of every joint above
bottom-up's detection threshold (0.1), and random tags make each candidate its own person, so grouping dominates a
bottom-up run; `limit_heatmap_peaks_` lowers the heatmap channels' bias so that only a realistic few candidates remain.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


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
