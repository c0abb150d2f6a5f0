"""The faster bottom-up aggregation gives bit-identical maps to the implementation it replaced.

The former code (kept below) mirrored and permuted every resized stage map of a flipped pass, made tag maps at every
scale and summed out of place. Now the stage mean of a flipped pass is mirrored and permuted once, tags are made only
for the scale that keeps them, sums run in place, and finiteness is checked by min/max. Compared exactly
(torch.equal) on random stage outputs (sizes where torch's bilinear kernel vectorises over channels included) and
end to end on stage outputs rendered from the COCO sample images, single and multi-scale, both aggregation eras.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.bottomup.aggregate import ScaleAccumulator, scale_maps, stage_maps
from harness.bottomup.finite import all_finite
from harness.bottomup.inference import aggregate_image
from harness.bottomup.resize import plan_scales, resize_image, to_input_tensor
from harness.data.images import read_image
from harness.errors import BottomUpConfigError
from tests.helpers.protocols import bottomup_protocol, keypoint_schema

K = 17
COCO_FLIP = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
COCO_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
COCO_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
SCHEMA = keypoint_schema(K, COCO_PAIRS, grouping_order=COCO_ORDER)
INPUT_SIZE = 128


# ---- the former implementation -------------------------------------------------------------------------------------
def _old_resize(x, size_hw):
    if tuple(x.shape[-2:]) == tuple(size_hw):
        return x
    return F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=False)


def _old_unflip(x, flip_index):
    if flip_index is None:
        return x
    return torch.flip(x, dims=[3])[:, list(flip_index)]


def _old_stage_maps(outputs, *, num_keypoints, base_size_hw, aggregation, flip_index=None):
    k = num_keypoints
    heat_sum = None
    tags = []
    if aggregation == "upsample_to_last":
        last_hw = tuple(outputs[-1].shape[-2:])
        for out in outputs:
            up = _old_resize(out, last_hw)
            heat = _old_unflip(up[:, :k], flip_index)
            heat_sum = heat if heat_sum is None else heat_sum + heat
            if up.shape[1] == 2 * k:
                tags.append(_old_unflip(up[:, k:], flip_index))
        heatmaps = _old_resize(heat_sum / len(outputs), base_size_hw)
        return heatmaps, [_old_resize(t, base_size_hw) for t in tags]
    for out in outputs:
        heat = _old_unflip(_old_resize(out[:, :k], base_size_hw), flip_index)
        heat_sum = heat if heat_sum is None else heat_sum + heat
        if out.shape[1] == 2 * k:
            tags.append(_old_unflip(_old_resize(out[:, k:], base_size_hw), flip_index))
    return heat_sum / len(outputs), tags


def _old_scale_maps(outputs, outputs_flipped, *, num_keypoints, base_size_hw, aggregation, flip_index):
    kw = {"num_keypoints": num_keypoints, "base_size_hw": base_size_hw, "aggregation": aggregation}
    heat, tags = _old_stage_maps(outputs, **kw)
    if outputs_flipped is None:
        return heat, tags
    heat_f, tags_f = _old_stage_maps(outputs_flipped, **kw, flip_index=flip_index)
    return (heat + heat_f) / 2.0, tags + tags_f


@torch.no_grad()
def _old_aggregate_image(model, image_rgb, *, protocol, schema, input_size):
    plan = plan_scales(image_rgb.shape[:2], input_size=input_size, factors=protocol.scales)
    heat_sum, kept = None, None
    for geom in plan.scales:
        x = to_input_tensor(resize_image(image_rgb, geom))
        outputs = model(x)
        outputs_flipped = model(torch.flip(x, dims=[3])) if protocol.flip else None
        heat, tags = _old_scale_maps(outputs, outputs_flipped, num_keypoints=schema.num_keypoints,
                                     base_size_hw=plan.base_size_hw, aggregation=protocol.era.stage_aggregation,
                                     flip_index=schema.flip_index if protocol.flip else None)  # fmt: skip
        heat_sum = heat if heat_sum is None else heat_sum + heat
        if geom.factor == 1.0 or len(plan.scales) == 1:
            kept = tags
    return heat_sum / float(len(plan.scales)), torch.stack(kept, dim=4)


# ---- inputs ---------------------------------------------------------------------------------------------------------
def _random_outputs(seed: int, h: int, w: int, *, stages: int = 2, coarse: bool = False) -> list[torch.Tensor]:
    """HigherHRNet-like stage outputs: [1, 2K, h, w] then [1, K, 2h, 2w] (AE: the first only)."""
    rng = np.random.default_rng(seed)
    shapes = [(1, 2 * K, h, w), (1, K, 2 * h, 2 * w)][:stages]
    outs = [rng.normal(0, 1, s) for s in shapes]
    if coarse:  # few distinct values: ties, and sums that round
        outs = [np.round(o * 3) / 3 for o in outs]
    return [torch.from_numpy(o.astype(np.float32)) for o in outs]


class _RenderedModel(torch.nn.Module):
    """Stage outputs rendered from the input image: pooled pixels, mixed per channel by fixed weights, so flipped and
    unflipped passes differ as a real model's do and the maps carry the image's structure."""

    def __init__(self, *, stages: int = 2, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.mix = [torch.randn(c, 3, generator=g) for c in (2 * K, K)][:stages]
        self.bias = [torch.randn(c, generator=g) * 0.1 for c in (2 * K, K)][:stages]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, (m, b) in enumerate(zip(self.mix, self.bias, strict=True)):
            pooled = F.avg_pool2d(x, 4 // (2**i))
            outs.append(torch.einsum("cd,ndhw->nchw", m, pooled) + b[None, :, None, None])
        return outs


# ---- tests ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("aggregation", ["direct", "upsample_to_last"])
@pytest.mark.parametrize("stages", [1, 2])
@pytest.mark.parametrize("base", [(64, 96), (50, 83), (32, 48)])
def test_stage_and_scale_maps_equal_the_former(seed, aggregation, stages, base) -> None:
    kw = {"num_keypoints": K, "base_size_hw": base, "aggregation": aggregation}
    outs = _random_outputs(seed, 16, 24, stages=stages, coarse=bool(seed % 2))
    outs_f = _random_outputs(seed + 100, 16, 24, stages=stages, coarse=bool(seed % 2))
    snapshot = [o.clone() for o in outs + outs_f]
    for flip_index in (None, COCO_FLIP):
        heat, tags = stage_maps(outs_f, **kw, flip_index=flip_index)
        old_heat, old_tags = _old_stage_maps(outs_f, **kw, flip_index=flip_index)
        assert torch.equal(heat, old_heat) and len(tags) == len(old_tags) == 1
        assert all(torch.equal(a, b) for a, b in zip(tags, old_tags, strict=True))
    heat, tags = scale_maps(outs, outs_f, **kw, flip_index=COCO_FLIP)
    old_heat, old_tags = _old_scale_maps(outs, outs_f, **kw, flip_index=COCO_FLIP)
    assert torch.equal(heat, old_heat) and all(torch.equal(a, b) for a, b in zip(tags, old_tags, strict=True))
    no_tags = scale_maps(outs, outs_f, **kw, flip_index=COCO_FLIP, with_tags=False)
    assert torch.equal(no_tags[0], old_heat) and no_tags[1] == []
    assert all(torch.equal(a, b) for a, b in zip(outs + outs_f, snapshot, strict=True))  # inputs not written


def test_accumulator_sums_like_the_former_and_leaves_inputs_alone() -> None:
    maps = [torch.from_numpy(np.random.default_rng(i).normal(0, 1, (1, K, 9, 11)).astype(np.float32)) for i in range(4)]
    snapshot = [m.clone() for m in maps]
    for n in (1, 2, 3, 4):
        factors = [2.0, 1.0, 0.5, 0.25][:n] if n > 1 else [1.0]
        acc = ScaleAccumulator(factors)
        for f, m in zip(factors, maps, strict=False):
            acc.add(f, m, [m[:, :, :, :] * 2])
        expected = maps[0]
        for m in maps[1:n]:
            expected = expected + m
        assert torch.equal(acc.result()[0], expected / float(n))
    assert all(torch.equal(a, b) for a, b in zip(maps, snapshot, strict=True))


def _run(scales, aggregation="direct", flip=True) -> dict:
    protocol = bottomup_protocol(scales=scales, flip=flip, stage_aggregation=aggregation)
    return {"protocol": protocol, "schema": SCHEMA, "input_size": INPUT_SIZE}


@pytest.mark.parametrize("image_id", [785, 196141])
@pytest.mark.parametrize("scales", [(1.0,), (2.0, 1.0, 0.5), (1.0, 0.75)])
@pytest.mark.parametrize("aggregation", ["direct", "upsample_to_last"])
def test_aggregate_image_equals_the_former_on_sample_images(samples_dir, image_id, scales, aggregation) -> None:
    image = read_image(samples_dir / "coco" / f"{image_id:012d}.jpg")
    model = _RenderedModel(seed=image_id % 7)
    for flip in (True, False):
        run = _run(scales, aggregation, flip)
        heat, tags, _ = aggregate_image(model, image, **run)
        old_heat, old_tags = _old_aggregate_image(model, image, **run)
        assert torch.equal(heat, old_heat) and torch.equal(tags, old_tags)


def test_aggregate_image_equals_the_former_for_single_stage_ae(samples_dir) -> None:
    image = read_image(samples_dir / "coco" / "000000000785.jpg")
    model = _RenderedModel(stages=1, seed=3)
    run = _run((2.0, 1.0, 0.5))
    heat, tags, _ = aggregate_image(model, image, **run)
    old_heat, old_tags = _old_aggregate_image(model, image, **run)
    assert torch.equal(heat, old_heat) and torch.equal(tags, old_tags)


@pytest.mark.parametrize("seed", range(6))
def test_all_finite_agrees_with_isfinite(seed) -> None:
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.normal(0, 1e30, (2, 5, 7, 3)).astype(np.float32))
    assert all_finite(x) and all_finite(x[:0])
    for bad in (float("nan"), float("inf"), float("-inf")):
        for _ in range(5):
            y = x.clone()
            y.view(-1)[int(rng.integers(0, y.numel()))] = bad
            assert all_finite(y) == bool(torch.isfinite(y).all()) is False
    big = torch.full((4, 4), 3e38)  # finite values whose sum overflows: still finite
    assert all_finite(big)


def test_accumulator_result_is_computed_once() -> None:
    acc = ScaleAccumulator([2.0, 1.0])
    maps = [torch.rand(1, K, 5, 6), torch.rand(1, K, 5, 6)]
    for f, m in zip((2.0, 1.0), maps, strict=True):
        acc.add(f, m, [m, m * 2])
    heat, tags = acc.result()
    again = acc.result()
    assert again[0] is heat and again[1] is tags and torch.equal(heat, (maps[0] + maps[1]) / 2.0)
    assert torch.equal(tags, torch.stack([maps[1], maps[1] * 2], dim=4))
    with pytest.raises(BottomUpConfigError):
        acc.add(0.5, maps[0], [])
