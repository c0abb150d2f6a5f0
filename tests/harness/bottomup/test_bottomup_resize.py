"""Bottom-up test-time resize: every worked example of PROTOCOLS.md §4, the affine, and its inverse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.bottomup.resize import (
    affine_matrix,
    plan_scales,
    resize_image,
    scale_geometry,
    to_input_tensor,
    transform_to_image,
)
from harness.errors import BottomUpConfigError

# (image (h, w), input_size, factors, sizes (H_t, W_t) in processing order, base (H_1, W_1), base scale (s_w, s_h))
WORKED = [
    ((480, 640), 512, [1], [(512, 704)], (512, 704), (3.3, 2.4)),
    ((480, 640), 512, [2, 1, 0.5], [(1024, 1536), (512, 768), (256, 384)], (512, 768), (3.6, 2.4)),
    ((333, 500), 512, [1], [(512, 832)], (512, 832), (832 / 512 * 333 / 200, 333 / 200)),
    ((333, 500), 512, [2, 1, 0.5], [(1024, 1792), (512, 896), (256, 448)], (512, 896), (896 / 512 * 1.665, 1.665)),
    ((427, 640), 640, [1], [(640, 960)], (640, 960), (960 / 640 * 2.135, 2.135)),
    ((427, 640), 640, [2, 1, 0.5], [(1280, 2048), (640, 1024), (320, 512)], (640, 1024), (1024 / 640 * 2.135, 2.135)),
    # w < h: the width is the short side.
    ((640, 480), 512, [1], [(704, 512)], (704, 512), (2.4, 3.3)),
]


@pytest.mark.parametrize(("hw", "size", "factors", "sizes", "base", "scale"), WORKED)
def test_worked_examples(hw, size, factors, sizes, base, scale):
    plan = plan_scales(hw, input_size=size, factors=factors)
    assert [g.size_hw for g in plan.scales] == sizes
    assert [g.factor for g in plan.scales] == sorted(map(float, factors), reverse=True)
    assert plan.base_size_hw == base
    assert plan.base.scale == pytest.approx(scale, abs=1e-12)
    assert plan.base.center == (round(hw[1] / 2), round(hw[0] / 2))


def test_multiscale_canvas_is_larger_than_single_scale():
    """PROTOCOLS.md §8 item 8: the base canvas depends on the MINIMUM factor."""
    single = plan_scales((480, 640), input_size=512, factors=[1])
    multi = plan_scales((480, 640), input_size=512, factors=[2, 1, 0.5])
    assert single.base_size_hw == (512, 704) and multi.base_size_hw == (512, 768)
    assert single.base.scale == pytest.approx((3.3, 2.4)) and multi.base.scale == pytest.approx((3.6, 2.4))


@pytest.mark.parametrize(
    ("hw", "center"), [((333, 427), (214, 166)), ((375, 500), (250, 188)), ((333, 500), (250, 166))]
)
def test_center_rounds_half_to_even(hw, center):
    """213.5 -> 214, 166.5 -> 166, 187.5 -> 188 (Python round), and integers."""
    geom = scale_geometry(hw, input_size=512, factor=1, min_factor=1)
    assert geom.center == center
    assert all(type(v) is int for v in geom.center)


def test_affine_is_uniform_zoom_about_integer_center():
    geom = plan_scales((480, 640), input_size=512, factors=[1]).base
    m = affine_matrix(geom)
    zoom = 704 / 660
    np.testing.assert_allclose(m, [[zoom, 0, 352 - 320 * zoom], [0, zoom, 256 - 240 * zoom]], atol=1e-9)
    # The short side maps to exactly H_t: rows 0 and 480 of the image land on 0 and 512.
    np.testing.assert_allclose(m @ [0, 0, 1], [352 - 320 * zoom, 0], atol=1e-9)
    np.testing.assert_allclose(m @ [0, 480, 1], [352 - 320 * zoom, 512], atol=1e-6)


@pytest.mark.parametrize("factors", [[1], [2, 1, 0.5]])
def test_transform_to_image_inverts_the_base_affine(factors):
    plan = plan_scales((427, 640), input_size=640, factors=factors)
    m = affine_matrix(plan.base)
    pts = np.array([[0.0, 0.0], [639.0, 426.0], [123.25, 77.5]])
    canvas = pts @ m[:, :2].T + m[:, 2]
    back = transform_to_image(canvas.astype(np.float32), center=plan.base.center, scale=plan.base.scale,
                              size_hw=plan.base_size_hw)  # fmt: skip
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, pts, atol=2e-3)


def test_resize_image_black_border_and_content():
    image = np.full((480, 640, 3), 200, dtype=np.uint8)
    geom = plan_scales((480, 640), input_size=512, factors=[2, 1, 0.5]).scales[1]  # (512, 768)
    out = resize_image(image, geom)
    assert out.shape == (512, 768, 3) and out.dtype == np.uint8
    assert (out[:, 0] == 0).all() and (out[:, -1] == 0).all()  # long side padded symmetrically
    # The short side fills the canvas; its last row samples just past the image (index-convention affine).
    assert (out[:-1, 384] == 200).all() and 0 < out[-1, 384, 0] < 200


def test_input_tensor_is_imagenet_normalised_rgb():
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 128, 0
    x = to_input_tensor(image)
    assert x.shape == (1, 3, 4, 5) and x.dtype == torch.float32
    expected = (torch.tensor([255, 128, 0], dtype=torch.float32) / 255 - torch.tensor([0.485, 0.456, 0.406])) / (
        torch.tensor([0.229, 0.224, 0.225])
    )
    torch.testing.assert_close(x[0, :, 0, 0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("factors", [[], [1, 1], [0, 1], [-1]])
def test_bad_factors_raise(factors):
    with pytest.raises(BottomUpConfigError):
        plan_scales((480, 640), input_size=512, factors=factors)
