"""Stage, flip and scale aggregation (PROTOCOLS.md §4 "Per scale", §7 stage-aggregation eras)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.bottomup.aggregate import ScaleAccumulator, scale_maps, stage_maps
from harness.errors import BottomUpConfigError, ModelOutputError

K = 4
FLIP_INDEX = [0, 2, 1, 3]  # joints 1 and 2 are a left/right pair
BASE = (32, 48)


def _up(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _mirror(out: torch.Tensor) -> torch.Tensor:
    """What a flip-equivariant model outputs for the flipped image: mirrored maps, left/right channels swapped."""
    k = K
    perm = FLIP_INDEX if out.shape[1] == k else FLIP_INDEX + [k + i for i in FLIP_INDEX]
    return torch.flip(out, dims=[3])[:, perm]


def _hhr(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 2 * K, 8, 12, generator=g), torch.rand(1, K, 16, 24, generator=g)]


@pytest.mark.parametrize("aggregation", ["direct", "upsample_to_last"])
def test_flip_of_an_equivariant_model_reproduces_the_original(aggregation):
    outputs = _hhr()
    flipped = [_mirror(o) for o in outputs]
    heat, tags = stage_maps(outputs, num_keypoints=K, base_size_hw=BASE, aggregation=aggregation)
    heat_f, tags_f = stage_maps(flipped, num_keypoints=K, base_size_hw=BASE, aggregation=aggregation,
                                flip_index=FLIP_INDEX)  # fmt: skip
    torch.testing.assert_close(heat_f, heat, rtol=0, atol=1e-6)
    torch.testing.assert_close(tags_f[0], tags[0], rtol=0, atol=1e-6)


def test_flip_mirrors_without_shift_and_permutes_channels():
    """A peak at column c of joint 1 in the flipped pass lands at column W-1-c of joint 2 (no one-pixel shift)."""
    out = torch.zeros(1, 2 * K, *BASE)
    out[0, 1, 5, 10] = 1.0  # heatmap of joint 1
    out[0, K + 1, 5, 10] = 7.0  # tag of joint 1
    heat, tags = stage_maps([out], num_keypoints=K, base_size_hw=BASE, aggregation="direct", flip_index=FLIP_INDEX)
    assert heat[0, 2, 5, BASE[1] - 1 - 10] == 1.0 and heat.sum() == 1.0
    assert tags[0][0, 2, 5, BASE[1] - 1 - 10] == 7.0 and tags[0].sum() == 7.0


def test_scale_maps_averages_flip_and_keeps_both_tag_maps():
    outputs = _hhr(1)
    flipped = [_mirror(o) * 0.5 for o in outputs]  # a model whose flipped pass is half as confident
    heat, tags = scale_maps(outputs, flipped, num_keypoints=K, base_size_hw=BASE, aggregation="direct",
                            flip_index=FLIP_INDEX)  # fmt: skip
    heat_o, tags_o = stage_maps(outputs, num_keypoints=K, base_size_hw=BASE, aggregation="direct")
    torch.testing.assert_close(heat, heat_o * 0.75, rtol=0, atol=1e-6)
    assert len(tags) == 2  # [orig, flipped]: stage 0 only carries tags (HigherHRNet)
    torch.testing.assert_close(tags[1], tags_o[0] * 0.5, rtol=0, atol=1e-6)


def test_direct_era_resizes_each_stage_to_base():
    out0, out1 = _hhr(2)
    heat, tags = stage_maps([out0, out1], num_keypoints=K, base_size_hw=BASE, aggregation="direct")
    torch.testing.assert_close(heat, (_up(out0[:, :K], BASE) + _up(out1, BASE)) / 2, rtol=0, atol=0)
    torch.testing.assert_close(tags[0], _up(out0[:, K:], BASE), rtol=0, atol=0)


def test_upsample_to_last_era_goes_through_the_last_stage_resolution():
    out0, out1 = _hhr(3)
    up0 = _up(out0, (16, 24))
    heat, tags = stage_maps([out0, out1], num_keypoints=K, base_size_hw=BASE, aggregation="upsample_to_last")
    torch.testing.assert_close(heat, _up((up0[:, :K] + out1) / 2, BASE), rtol=0, atol=0)
    torch.testing.assert_close(tags[0], _up(up0[:, K:], BASE), rtol=0, atol=0)


def test_eras_differ_slightly_on_two_stages_and_agree_on_one():
    outputs = _hhr(4)
    a, ta = stage_maps(outputs, num_keypoints=K, base_size_hw=BASE, aggregation="direct")
    b, tb = stage_maps(outputs, num_keypoints=K, base_size_hw=BASE, aggregation="upsample_to_last")
    assert a.shape == b.shape == (1, K, *BASE) and ta[0].shape == tb[0].shape == (1, K, *BASE)
    diff = (a - b).abs().max().item()
    assert 1e-4 < diff < 0.5
    one = outputs[:1]
    c, _ = stage_maps(one, num_keypoints=K, base_size_hw=BASE, aggregation="direct")
    d, _ = stage_maps(one, num_keypoints=K, base_size_hw=BASE, aggregation="upsample_to_last")
    torch.testing.assert_close(c, d, rtol=0, atol=0)


def test_scales_sum_over_n_and_tags_from_scale_one_only():
    acc = ScaleAccumulator([2.0, 1.0, 0.5])
    hms = [torch.full((1, K, *BASE), v) for v in (1.0, 2.0, 6.0)]
    tag_sets = [[torch.full((1, K, *BASE), 10.0 * i + j) for j in range(2)] for i in range(3)]
    for f, hm, tg in zip([2.0, 1.0, 0.5], hms, tag_sets, strict=True):
        acc.add(f, hm, tg)
    heat, tags = acc.result()
    torch.testing.assert_close(heat, torch.full((1, K, *BASE), 3.0))
    assert tags.shape == (1, K, *BASE, 2)
    assert tags[..., 0].unique().tolist() == [10.0] and tags[..., 1].unique().tolist() == [11.0]


def test_multiscale_without_scale_one_is_refused():
    with pytest.raises(BottomUpConfigError):
        ScaleAccumulator([2.0, 0.5])


def test_wrong_channel_count_is_a_model_output_error():
    with pytest.raises(ModelOutputError):
        stage_maps([torch.zeros(1, 3 * K, 8, 8)], num_keypoints=K, base_size_hw=BASE, aggregation="direct")
