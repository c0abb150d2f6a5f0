"""Bottom-up UDP (`affine: udp`, PROTOCOLS.md §4 "Unbiased data processing"): geometry, aggregation, DARK adjust,
refine offset and projection, and the registry field. The reference values of the geometry were printed by MMPose
0.29 (`_get_multi_scale_size(..., use_udp=True)`) for the 500 x 333 COCO sample; tests/oracle/
test_eval_parity_bottomup_coco.py compares whole runs with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.bottomup import udp
from harness.bottomup.grouping import parse, refine_persons
from harness.bottomup.resize import plan_scales
from tests.helpers.protocols import bottomup_protocol, keypoint_schema
from zoo.registry.load import load_registry


def test_region_and_warp_of_a_landscape_image():
    plan = plan_scales((333, 500), input_size=512, factors=[1])
    assert plan.base.size_hw == (512, 832)
    r_w, r_h = udp.region(plan.image_hw, plan.base)
    assert r_h == 332.0 and r_w == pytest.approx(539.9060665362035, abs=1e-12)
    m = udp.warp_matrix(plan, plan.base)
    assert m.dtype == np.float32 and m[0, 2] == 0 and m[1, 2] == 0  # corner pixel onto corner pixel
    assert m[1, 1] == np.float32(511) / np.float32(332)


def test_every_scale_warps_the_smallest_scales_region():
    plan = plan_scales((333, 500), input_size=512, factors=[2, 1, 0.5])
    smallest = udp.region(plan.image_hw, plan.scales[-1])
    for g in plan.scales:
        m = udp.warp_matrix(plan, g)
        assert m[0, 0] == np.float32(g.size_hw[1] - 1) / np.float32(smallest[0])
    # the projection uses the scale-1 canvas's region, which differs from the smallest one's
    assert udp.region(plan.image_hw, plan.base)[0] == pytest.approx(581.4872798434442, abs=1e-12)


def test_projection_maps_corner_pixels_to_the_region():
    plan = plan_scales((333, 500), input_size=512, factors=[1])
    xy = udp.to_image(np.array([[0.0, 0.0], [207.0, 127.0]], np.float32), plan, (128, 208))
    assert xy.dtype == np.float32
    assert xy[0].tolist() == [0.0, 0.0]
    assert xy[1] == pytest.approx(udp.region(plan.image_hw, plan.base), abs=1e-4)


def _gaussian(h, w, cx, cy, sigma=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_dark_adjust_moves_an_integer_peak_towards_the_true_centre_and_keeps_its_inputs():
    hm = np.stack([_gaussian(32, 40, 20.3, 11.6), _gaussian(32, 40, 5.0, 7.0)])
    persons = np.zeros((1, 2, 5), np.float32)
    persons[0, 0, :3] = (20, 12, 1.0)  # integer peak of joint 0
    before_hm, before_p = hm.copy(), persons.copy()
    out = udp.dark_adjust(persons, hm)
    assert np.array_equal(hm, before_hm) and np.array_equal(persons, before_p)
    assert abs(out[0, 0, 0] - 20.3) < 0.1 and abs(out[0, 0, 1] - 11.6) < 0.1
    assert out[0, 1, 2] == 0 and out.dtype == np.float32  # a missing joint is moved too, its value stays 0
    assert udp.dark_adjust(np.zeros((0, 2, 5), np.float32), hm).shape == (0, 2, 5)


def test_refine_without_half_pixel_under_udp():
    hm = torch.from_numpy(np.stack([_gaussian(16, 16, 4, 4), _gaussian(16, 16, 10, 9)]))
    tags = torch.zeros(2, 1, 16, 16)
    persons = np.zeros((1, 2, 4), np.float32)
    persons[0, 0, :3] = (4, 4, 1.0)
    standard = refine_persons(persons, hm, tags)
    unbiased = refine_persons(persons, hm, tags, half_pixel=False)
    assert standard[0, 1, 0] - unbiased[0, 1, 0] == 0.5 and standard[0, 1, 1] - unbiased[0, 1, 1] == 0.5
    assert unbiased[0, 1, 2] == pytest.approx(1.0)


def test_pass_maps_stay_at_output_resolution_and_mirror_before_resizing():
    k = 3
    schema = keypoint_schema(k, [(1, 2)])
    torch.manual_seed(0)
    outs = [torch.rand(1, 2 * k, 8, 12), torch.rand(1, k, 16, 24)]
    flipped = [torch.rand(1, 2 * k, 8, 12), torch.rand(1, k, 16, 24)]
    heat, tags = udp.pass_maps(outs, flipped, k=k, flip_index=schema.flip_index)
    assert heat.shape == (1, k, 16, 24) and [t.shape for t in tags] == [(1, k, 8, 12)] * 2
    assert torch.equal(tags[1], torch.flip(flipped[0][:, k:], [3])[:, [0, 2, 1]])
    heat_all, tags_all = udp.combine_scales([heat], tags)
    assert heat_all.shape == (1, k, 16, 24) and tags_all.shape == (1, k, 16, 24, 2)  # tags brought to the heatmaps


def test_parse_under_udp_adds_no_half_pixel():
    k = 2
    hm = torch.from_numpy(np.stack([_gaussian(24, 24, 8, 8), _gaussian(24, 24, 15, 9)]))[None]
    tags = torch.zeros(1, k, 24, 24, 1)
    schema = keypoint_schema(k)
    persons, _ = parse(hm, tags, protocol=bottomup_protocol(affine="udp"), schema=schema)
    assert persons.shape[0] == 1
    assert persons[0, 0, :2] == pytest.approx([8.0, 8.0], abs=1e-3)  # standard: (8.25 or 7.75) + 0.5
    standard, _ = parse(hm, tags, protocol=bottomup_protocol(), schema=schema)
    assert standard[0, 0, 0] in (8.25 + 0.5, 7.75 + 0.5)


def test_registry_rows_carry_their_affine():
    reg = load_registry()
    assert reg.row("hrnet_w32_coco_512x512_udp/single-scale").protocol.affine == "udp"
    assert reg.row("higher_hrnet48_coco_512x512_udp/single-scale").protocol.affine == "udp"
    for row in ("hrnet_w32_coco_512x512/multi-scale", "higher_hrnet32_coco_512x512/single-scale"):
        assert reg.row(row).protocol.affine == "standard"
