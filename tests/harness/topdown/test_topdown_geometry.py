"""Box -> center/scale, affine matrix, normalisation, flip combination: PROTOCOLS.md §3 worked examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.topdown.boxes import bbox_to_center_scale, padded_box_area
from harness.topdown.crop import IMAGENET_MEAN, IMAGENET_STD, affine_matrix, normalize_crops
from harness.topdown.flip import combine_flip, flip_back


def test_center_scale_worked_example():
    # PROTOCOLS.md §3: bbox (100, 50, 80, 200), 192x256 -> center (140, 150), scale (0.9375, 1.25).
    c, s = bbox_to_center_scale(np.array([100, 50, 80, 200.0]), input_size=(256, 192), padding=1.25)
    assert c.dtype == np.float32 and s.dtype == np.float32
    np.testing.assert_array_equal(c, [[140, 150]])
    np.testing.assert_array_equal(s, [[0.9375, 1.25]])
    assert padded_box_area(s)[0] == np.float32(187.5 * 250)


@pytest.mark.parametrize(
    ("box", "size", "padding", "expect"),
    [
        ((0, 0, 300, 100), (256, 192), 1.0, (1.5, 2.0)),  # wide: h = w / 0.75
        ((0, 0, 30, 200), (256, 192), 1.0, (0.75, 1.0)),  # tall: w = h * 0.75
        ((0, 0, 150, 200), (256, 192), 1.0, (0.75, 1.0)),  # exact aspect: unchanged
        ((0, 0, 100, 300), (256, 256), 1.0, (1.5, 1.5)),  # ATRW 1:1, padding 1.0
        ((10, 20, 0, 0), (256, 192), 1.25, (0.0, 0.0)),  # zero-size box: zero scale, as the reference
    ],
)
def test_aspect_fix_and_padding(box, size, padding, expect):
    _, s = bbox_to_center_scale(np.array(box, dtype=float), input_size=size, padding=padding)
    np.testing.assert_allclose(s[0], expect, rtol=1e-6)


def test_scale_is_float32_rounded_before_padding():
    # w / 200 is rounded to float32 first, then multiplied by the float32 padding (model-zoo-era order).
    box = np.array([3.3, 4.4, 123.456789, 98.7654321])
    _, s = bbox_to_center_scale(box, input_size=(256, 192), padding=1.25)
    w, h = 123.456789, 98.7654321
    w = max(w, h * 0.75)
    h = w / 0.75
    want = np.array([w / 200, h / 200], dtype=np.float32) * np.float32(1.25)
    np.testing.assert_array_equal(s[0], want)


def test_affine_matrix_worked_example():
    # PROTOCOLS.md §3: the example box gives [[1.024, 0, -47.36], [0, 1.024, -25.6]].
    m = affine_matrix(np.array([140, 150.0]), np.array([0.9375, 1.25]), output_size=(256, 192))
    assert m.dtype == np.float64 and m.shape == (2, 3)
    np.testing.assert_allclose(m, [[1.024, 0, -47.36], [0, 1.024, -25.6]], atol=1e-9)


def test_affine_maps_center_to_output_center_with_uniform_zoom():
    c, s = np.array([321.5, 77.25]), np.array([1.7, 2.2])
    m = affine_matrix(c, s, output_size=(256, 256))
    np.testing.assert_allclose(m @ [*c, 1], [128, 128], atol=1e-4)
    zoom = 256 / (np.float32(1.7) * 200)
    np.testing.assert_allclose(m[:, :2], np.eye(2) * zoom, atol=1e-6)


def test_normalize_matches_to_tensor_then_normalize():
    rng = np.random.default_rng(0)
    crops = torch.from_numpy(rng.integers(0, 256, (2, 3, 5, 4), dtype=np.uint8))
    x = normalize_crops(crops)
    ref = crops.numpy().astype(np.float32) / np.float32(255)
    ref = (ref - np.float32(IMAGENET_MEAN).reshape(1, 3, 1, 1)) / np.float32(IMAGENET_STD).reshape(1, 3, 1, 1)
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), ref)


def test_flip_back_swaps_mirrors_and_shifts():
    hm = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    back = flip_back(hm, flip_pairs=[(0, 2)], shift=True)
    for ch, src in ((0, 2), (1, 1), (2, 0)):
        mirrored = hm[:, src, :, ::-1]
        # PROTOCOLS.md §3: new[x] = old[x - 1] for x >= 1, column 0 keeps its own value.
        np.testing.assert_array_equal(back[:, ch, :, 1:], mirrored[:, :, :-1])
        np.testing.assert_array_equal(back[:, ch, :, 0], mirrored[:, :, 0])
    np.testing.assert_array_equal(flip_back(hm, flip_pairs=[], shift=False), hm[..., ::-1])
    assert hm[0, 0, 0, 0] == 0  # input untouched


def test_combine_flip_is_mean_in_float32():
    rng = np.random.default_rng(1)
    a = rng.random((1, 2, 3, 4), dtype=np.float32)
    b = rng.random((1, 2, 3, 4), dtype=np.float32)
    out = combine_flip(a, b, flip_pairs=[(0, 1)], shift=True)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (a + flip_back(b, flip_pairs=[(0, 1)], shift=True)) / np.float32(2))
