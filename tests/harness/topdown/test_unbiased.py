"""DARK / UDP / CombinedTarget decoding and the UDP affine (PROTOCOLS.md §3.1): the vectorised kernels against
per-keypoint loops (tests/helpers/unbiased_reference.py), and the geometry they exist for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from harness.topdown.crop import udp_affine_matrices
from harness.topdown.decode import argmax_peaks, decode_default, transform_preds
from harness.topdown.flip import flip_back
from harness.topdown.unbiased import (
    VALID_RADIUS_FACTOR,
    dark_refine,
    decode_combined,
    decode_udp_heatmaps,
    gaussian_blur,
)
from tests.helpers.unbiased_reference import combined_loop, dark_loop, udp_loop


def _gaussians(rng, n: int, k: int, h: int, w: int, sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps [N, K, H, W] of one Gaussian each at random sub-pixel centres (returned [N, K, 2]), plus noise."""
    centres = rng.uniform([3, 3], [w - 4, h - 4], size=(n, k, 2))
    ys, xs = np.mgrid[0:h, 0:w]
    d2 = (xs - centres[..., 0, None, None]) ** 2 + (ys - centres[..., 1, None, None]) ** 2
    hm = np.exp(-d2 / (2 * sigma**2)) + rng.normal(0, 1e-3, size=(n, k, h, w))
    return hm.astype(np.float32), centres


@pytest.mark.parametrize("kernel", [3, 11, 17, 23])
def test_blur_of_many_maps_at_once_is_the_blur_of_each(kernel):
    maps = np.random.default_rng(0).standard_normal((3, 20, 24, 18)).astype(np.float32)
    each = np.stack([[cv2.GaussianBlur(m, (kernel, kernel), 0) for m in row] for row in maps])
    assert np.array_equal(gaussian_blur(maps, kernel), each)


@pytest.mark.parametrize("kernel", [11, 17])
def test_dark_matches_the_per_keypoint_loop(kernel):
    hm, _ = _gaussians(np.random.default_rng(1), 4, 17, 64, 48)
    hm[0, 0] = -1.0  # no positive value: stays at (-1, -1)
    hm[1, 1, :, :] = 0.0
    hm[1, 1, 1, 20] = 1.0  # a peak too close to the border to refine
    coords, _ = argmax_peaks(hm)
    ours = dark_refine(hm, coords, kernel)
    np.testing.assert_allclose(ours, dark_loop(hm, kernel), rtol=0, atol=1e-4)
    assert (ours[0, 0] == -1).all() and (ours[1, 1] == coords[1, 1]).all()


def test_dark_finds_the_sub_pixel_centre():
    hm, centres = _gaussians(np.random.default_rng(2), 2, 17, 64, 48)
    coords, _ = argmax_peaks(hm)
    refined = dark_refine(hm, coords, 11)
    assert np.abs(refined - centres).max() < 0.05 < np.abs(coords - centres).max()


def test_udp_matches_the_per_keypoint_loop():
    hm, centres = _gaussians(np.random.default_rng(3), 3, 17, 64, 48)
    coords, maxvals = decode_udp_heatmaps(hm, 11)
    np.testing.assert_allclose(coords, udp_loop(hm, 11), rtol=0, atol=1e-4)
    assert np.array_equal(maxvals, argmax_peaks(hm)[1])
    # Away from the border (where the blur's reflected border bends the map) one step lands on the centre.
    inner = ((centres >= 6) & (centres <= [48 - 7, 64 - 7])).all(-1)
    assert np.abs(coords - centres)[inner].max() < 0.1


def test_combined_matches_the_per_keypoint_loop():
    rng = np.random.default_rng(4)
    out = rng.standard_normal((3, 51, 64, 48)).astype(np.float32)
    out[:, 0::3] += 3 * _gaussians(rng, 3, 17, 64, 48)[0]
    coords, maxvals = decode_combined(out, 11)
    ref_coords, ref_maxvals = combined_loop(out, 11, VALID_RADIUS_FACTOR)
    np.testing.assert_array_equal(maxvals, ref_maxvals)
    np.testing.assert_allclose(coords, ref_coords, rtol=0, atol=1e-5)


def test_udp_crop_and_decode_round_trip_a_point():
    """An image point, warped into the UDP crop and scaled to the heatmap grid ((size - 1) / (input - 1)), comes back
    to itself through transform_preds(udp=True)."""
    centers = np.array([[140.0, 150.0], [320.5, 77.25]], np.float32)
    scales = np.array([[0.9375, 1.25], [1.5, 2.0]], np.float32)
    (h, w), (hh, hw) = (256, 192), (64, 48)
    m = udp_affine_matrices(centers, scales, output_size=(h, w))
    point = centers + np.array([[13.0, -21.0]], np.float32)
    inp = np.einsum("nij,nj->ni", m[:, :, :2], point) + m[:, :, 2]
    hm_xy = inp * np.array([(hw - 1) / (w - 1), (hh - 1) / (h - 1)])
    back = transform_preds(hm_xy[:, None].astype(np.float32), centers, scales, heatmap_size=(hh, hw), udp=True)
    np.testing.assert_allclose(back[:, 0], point, atol=1e-3)
    # The box centre lands on the middle of the input's pixel grid.
    np.testing.assert_allclose(np.einsum("nij,nj->ni", m[:, :, :2], centers) + m[:, :, 2], [[95.5, 127.5]] * 2)


def test_flip_back_of_combined_outputs_negates_x_offsets_and_swaps_triples():
    rng = np.random.default_rng(5)
    out = rng.standard_normal((2, 9, 8, 6)).astype(np.float32)
    back = flip_back(out, flip_pairs=((1, 2),), shift=False, combined=True)
    mirrored = out[..., ::-1]
    np.testing.assert_array_equal(back[:, 0:3], mirrored[:, 0:3] * np.array([1, -1, 1])[:, None, None])
    np.testing.assert_array_equal(back[:, 3:6], mirrored[:, 6:9] * np.array([1, -1, 1])[:, None, None])
    assert np.array_equal(flip_back(back, flip_pairs=((1, 2),), shift=False, combined=True), out)


def test_half_heatmaps_average_in_half_and_decode_as_their_float32_values():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 17, 16, 12)).astype(np.float16)
    b = rng.standard_normal((2, 17, 16, 12)).astype(np.float16)
    from harness.topdown.flip import combine_flip

    avg = combine_flip(a, b, flip_pairs=((1, 2),), shift=True)
    assert avg.dtype == np.float16
    expected = (a + flip_back(b, flip_pairs=((1, 2),), shift=True)) / np.float16(2)
    assert np.array_equal(avg, expected)
    c, s = np.array([[50.0, 60.0]] * 2, np.float32), np.array([[1.0, 1.25]] * 2, np.float32)
    assert np.array_equal(decode_default(avg, c, s), decode_default(avg.astype(np.float32), c, s))
