"""Per-scale network outputs -> aggregated heatmaps and tags at the base (scale-1 INPUT) resolution.

PROTOCOLS.md §4 "Per scale", §7 (stage aggregation eras), §8 items 8 and 13. Shapes: heatmaps [N, K, H, W],
tags [N, K, H, W] per tag-carrying pass, stacked tags [N, K, H, W, L]. Sizes are (H, W).

A stage output with 2K channels carries heatmaps (channels :K) and per-joint tags (channels K:2K); a stage with
K channels carries heatmaps only. That is `with_heatmaps` / `with_ae` of the two heads in PROTOCOLS.md §2.2:
AE [True]/[True] (one 2K stage), HigherHRNet [True, True]/[True, False] (2K stage, then K stage).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import torch
import torch.nn.functional as F

from harness.errors import BottomUpConfigError, ModelOutputError
from zoo.registry.schema import Aggregation

AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


def _resize(x: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear, align_corners False (PROTOCOLS.md §2.2 `align_corners=False`). Same size is the identity."""
    if tuple(x.shape[-2:]) == tuple(size_hw):
        return x
    return F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=False)


def _check_outputs(outputs: Sequence[torch.Tensor], num_keypoints: int) -> None:
    if not outputs:
        raise ModelOutputError("the model returned no output stages; expected a list of [N, C, H, W] tensors")
    for i, out in enumerate(outputs):
        if out.ndim != 4 or out.shape[1] not in (num_keypoints, 2 * num_keypoints):
            raise ModelOutputError(
                f"output stage {i} has shape {tuple(out.shape)}; expected [N, K or 2K, H, W] with K = {num_keypoints} "
                "(heatmaps, then per-joint tags); check the head's num_joints against the keypoint schema"
            )
    if outputs[0].shape[1] != 2 * num_keypoints:
        raise ModelOutputError(
            f"output stage 0 has {outputs[0].shape[1]} channels; the first stage must carry K heatmaps and K tags "
            f"(2K = {2 * num_keypoints}) (PROTOCOLS.md §8 item 13)"
        )


def _unflip(x: torch.Tensor, flip_index: Sequence[int] | None) -> torch.Tensor:
    """Maps of the flipped input -> original frame: mirror along width, permute joints. NO one-pixel shift
    (PROTOCOLS.md §4; the shift is top-down only, §8 item 6). Channel by channel: each mirrored map is copied while
    it is still in cache, one pass over memory fewer than mirroring all, then gathering the channels."""
    if flip_index is None:
        return x
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    for c, src in enumerate(flip_index):
        out[:, c] = torch.flip(x[:, src], dims=[-1])
    return out


def _add_unflipped(acc: torch.Tensor, x: torch.Tensor, flip_index: Sequence[int]) -> torch.Tensor:
    """acc += _unflip(x, flip_index), in place, without materialising the unflipped maps (same sums)."""
    for c, src in enumerate(flip_index):
        acc[:, c].add_(torch.flip(x[:, src], dims=[-1]))
    return acc


def _mean(maps: Sequence[torch.Tensor], *, first_is_ours: bool = False) -> torch.Tensor:
    """(m_0 + m_1 + ...) / n, summed left to right as the reference does, in place into a tensor of ours: m_0 when
    first_is_ours (made by a resize), else the first sum (m_0 may be a caller's tensor and is never written)."""
    total, ours = maps[0], first_is_ours
    for m in maps[1:]:
        total = total.add_(m) if ours else total + m
        ours = True
    return total.div_(len(maps)) if ours else total / len(maps)


def _direct_maps(
    outputs: Sequence[torch.Tensor], k: int, base_size_hw: tuple[int, int], *, with_tags: bool
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """ "direct" aggregation without the unflip: (stage mean of the resized heatmaps, resized tag maps).

    The caller unflips the MEAN once: mirroring and permuting joints move values without changing them, so they
    commute with elementwise sums and division, and this equals the reference's mean of unflipped stages. They are
    NOT moved before the resize: torch's CPU bilinear kernel computes a channel differently depending on its place
    among the channels (vectorised groups of 8 vs the remainder), so a permuted input can round differently.
    """
    heats = [_resize(out[:, :k], base_size_hw) for out in outputs]
    tags = [_resize(out[:, k:], base_size_hw) for out in outputs if with_tags and out.shape[1] == 2 * k]
    resized_first = tuple(outputs[0].shape[-2:]) != tuple(base_size_hw)  # else _resize returned the output's view
    return _mean(heats, first_is_ours=resized_first), tags


def _check_stage_args(outputs, k: int, aggregation: str, flip_index: Sequence[int] | None) -> None:
    _check_outputs(outputs, k)
    if aggregation not in AGGREGATIONS:
        raise BottomUpConfigError(f"stage aggregation {aggregation!r} is unknown; expected one of {AGGREGATIONS}")
    if flip_index is not None and sorted(flip_index) != list(range(k)):
        raise BottomUpConfigError(f"flip_index {list(flip_index)} is not a permutation of 0..{k - 1}")


def stage_maps(
    outputs: Sequence[torch.Tensor],
    *,
    num_keypoints: int,
    base_size_hw: tuple[int, int],
    aggregation: Aggregation,
    flip_index: Sequence[int] | None = None,
    with_tags: bool = True,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One forward pass -> (heatmaps [N, K, H_1, W_1] averaged over stages, tags: [N, K, H_1, W_1] per tag stage).

    outputs: the head's list of stage outputs [N, C_i, H_i, W_i] (C_i = 2K or K). flip_index: given when the
    outputs are those of the horizontally flipped input; the maps are then mirrored back and their joint channels
    permuted (heatmaps and tags alike, tag_per_joint).
    aggregation (PROTOCOLS.md §7): "direct" (0.x HEAD) resizes every stage straight to base size and averages;
    "upsample_to_last" (model-zoo era, before 2021-09-28) first upsamples lower-resolution stages (all channels)
    to the LAST stage's resolution, averages the heatmaps there, splits the tags from the upsampled stage, and
    then resizes the results to base size. with_tags False: no tag maps are made (an empty list), e.g. for a
    test scale whose tags are not kept.
    """
    k = num_keypoints
    _check_stage_args(outputs, k, aggregation, flip_index)
    if aggregation == "direct":
        heat, tags = _direct_maps(outputs, k, base_size_hw, with_tags=with_tags)
        return _unflip(heat, flip_index), [_unflip(t, flip_index) for t in tags]
    heat_sum: torch.Tensor | None = None
    tags: list[torch.Tensor] = []
    last_hw = tuple(outputs[-1].shape[-2:])
    for out in outputs:
        up = _resize(out, last_hw)  # the whole stage output, heatmaps and tags together
        heat = _unflip(up[:, :k], flip_index)
        heat_sum = heat if heat_sum is None else heat_sum + heat
        if with_tags and up.shape[1] == 2 * k:
            tags.append(_unflip(up[:, k:], flip_index))
    heatmaps = _resize(heat_sum / len(outputs), base_size_hw)
    return heatmaps, [_resize(t, base_size_hw) for t in tags]


def scale_maps(
    outputs: Sequence[torch.Tensor],
    outputs_flipped: Sequence[torch.Tensor] | None,
    *,
    num_keypoints: int,
    base_size_hw: tuple[int, int],
    aggregation: Aggregation,
    flip_index: Sequence[int],
    with_tags: bool = True,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One scale's passes -> (heatmaps [N, K, H_1, W_1], tags list [orig stages..., flipped stages...]).

    Heatmaps are (orig + flipped) / 2 when a flipped pass is given (PROTOCOLS.md §4), its channels unflipped with
    flip_index (the keypoint schema's); tags stay separate maps.
    with_tags False: the tag list is empty (ScaleAccumulator keeps the tags of scale 1 only).
    """
    kw = {"num_keypoints": num_keypoints, "base_size_hw": base_size_hw, "aggregation": aggregation}
    heat, tags = stage_maps(outputs, **kw, with_tags=with_tags)
    if outputs_flipped is None:
        return heat, tags
    # heat is a new tensor of stage_maps (a mean), so it can take the sum in place.
    if aggregation != "direct":
        heat_f, tags_f = stage_maps(outputs_flipped, **kw, flip_index=flip_index, with_tags=with_tags)
        return heat.add_(heat_f).div_(2.0), tags + tags_f
    _check_stage_args(outputs_flipped, num_keypoints, aggregation, flip_index)
    mirrored, tags_m = _direct_maps(outputs_flipped, num_keypoints, base_size_hw, with_tags=with_tags)
    heat = _add_unflipped(heat, mirrored, flip_index).div_(2.0)  # (heat + unflipped stage mean) / 2
    return heat, tags + [_unflip(t, flip_index) for t in tags_m]


class ScaleAccumulator:
    """Sums heatmaps over scales and keeps the tags of scale 1 (PROTOCOLS.md §4 "Across scales", §8 item 8).

    Add scales in processing order (descending factors); `result()` divides the sum by the number of scales
    (sum / n, as the reference) and stacks the kept tag maps on a new last axis: [N, K, H_1, W_1, L]. That is a
    view of channel-first storage [N, K, L, H_1, W_1]: stacking whole maps is a block copy (interleaving them on the
    last axis is a slow strided one), and grouping reads the tags per map anyway.
    """

    def __init__(self, factors: Sequence[float]) -> None:
        self._factors = [float(f) for f in factors]
        if not self._factors:
            raise BottomUpConfigError("no test scales given; expected at least one factor, e.g. [1]")
        if len(self._factors) > 1 and 1.0 not in self._factors:
            raise BottomUpConfigError(
                f"test scales {self._factors} lack 1: tags are taken only from scale 1 (PROTOCOLS.md §4); add 1"
            )
        self._sum: torch.Tensor | None = None
        self._tags: list[torch.Tensor] | None = None
        self._seen = 0
        self._result: tuple[torch.Tensor, torch.Tensor] | None = None

    def add(self, factor: float, heatmaps: torch.Tensor, tags: Sequence[torch.Tensor]) -> None:
        """heatmaps [N, K, H_1, W_1] of one scale (flip-averaged), tags: its [N, K, H_1, W_1] maps."""
        if self._result is not None:
            raise BottomUpConfigError("a scale was added after result(); use a new ScaleAccumulator per image")
        if self._sum is not None and heatmaps.shape != self._sum.shape:
            raise ModelOutputError(
                f"scale {factor} heatmaps are {tuple(heatmaps.shape)}, earlier scales {tuple(self._sum.shape)}; "
                "every scale must be resized to the same base size"
            )
        # Summed in processing order; in place from the second sum on (the first map stays the caller's).
        if self._sum is None:
            self._sum = heatmaps
        elif self._seen == 1:
            self._sum = self._sum + heatmaps
        else:
            self._sum.add_(heatmaps)
        if self.keeps_tags(factor):
            self._tags = list(tags)
        self._seen += 1

    def keeps_tags(self, factor: float) -> bool:
        """Whether the tags of this scale are kept (scale 1, or the only scale); others need no tag maps."""
        return float(factor) == 1.0 or len(self._factors) == 1

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(heatmaps [N, K, H_1, W_1], tags [N, K, H_1, W_1, L]); computed once, the same tensors on every call."""
        if self._seen != len(self._factors) or self._sum is None or not self._tags:
            raise BottomUpConfigError(
                f"{self._seen} of {len(self._factors)} scales were added (or scale 1 had no tag maps); add every "
                "scale of the protocol before taking the result"
            )
        if self._result is None:
            n = float(len(self._factors))
            # From two scales on, the sum is our own tensor (add), so it takes the division in place.
            heatmaps = self._sum.div_(n) if self._seen > 1 else self._sum / n
            self._result = heatmaps, torch.stack(self._tags, dim=2).permute(0, 1, 3, 4, 2)
        return self._result
