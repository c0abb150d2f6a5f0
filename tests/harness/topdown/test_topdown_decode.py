"""'default' decode: PROTOCOLS.md §3 steps 1-3 (worked example, border rule, ties, sign(0), maxval <= 0)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.topdown.decode import argmax_peaks, decode_default, quarter_offset, transform_preds

C = np.array([[140, 150]], dtype=np.float32)
S = np.array([[0.9375, 1.25]], dtype=np.float32)


def _map(h=64, w=48):
    return np.zeros((1, 1, h, w), dtype=np.float32)


def test_worked_example_to_image():
    # PROTOCOLS.md §3: peak decoded at (20.25, 30.75) on 48x64 with the example box -> (125.3516, 145.1172).
    xy = transform_preds(np.array([[[20.25, 30.75]]], np.float32), C, S, heatmap_size=(64, 48))
    assert xy.dtype == np.float32
    np.testing.assert_allclose(xy[0, 0], [125.3516, 145.1172], atol=1e-4)
    np.testing.assert_array_equal(xy[0, 0], np.array([125.3515625, 145.1171875], np.float32))


def test_worked_example_end_to_end():
    hm = _map()
    hm[0, 0, 30, 20] = 1.0
    hm[0, 0, 30, 21] = 0.5  # right neighbour higher than left -> +0.25
    hm[0, 0, 31, 20] = 0.5  # lower neighbour higher than upper -> +0.25 ... then y = 30.25
    kp = decode_default(hm, C, S)
    np.testing.assert_array_equal(kp[0, 0, 2], np.float32(1.0))
    want = transform_preds(np.array([[[20.25, 30.25]]], np.float32), C, S, heatmap_size=(64, 48))
    np.testing.assert_array_equal(kp[0, 0, :2], want[0, 0])


def test_argmax_takes_first_max_and_nonpositive_is_minus_one():
    hm = np.zeros((1, 3, 4, 5), np.float32)
    hm[0, 0, 1, 3] = hm[0, 0, 2, 1] = 0.7  # tie: first in row-major order wins
    hm[0, 1] = -0.5  # all negative
    coords, maxvals = argmax_peaks(hm)  # channel 2 all zero -> maxval 0 -> (-1, -1)
    np.testing.assert_array_equal(coords[0], [[3, 1], [-1, -1], [-1, -1]])
    np.testing.assert_array_equal(maxvals[0], np.float32([0.7, -0.5, 0.0]))


@pytest.mark.parametrize(
    ("px", "py", "refined"),
    [(1, 30, False), (0, 30, False), (2, 30, True), (46, 30, True), (47, 30, False),
     (20, 1, False), (20, 2, True), (20, 62, True), (20, 63, False)],
)  # fmt: skip
def test_border_rule(px, py, refined):
    # PROTOCOLS.md §3 step 2: refine only if 1 < px < W-1 and 1 < py < H-1 (48x64 map).
    hm = _map()
    hm[0, 0] = 0.01
    hm[0, 0, py, px] = 1.0
    if px + 1 < 48:
        hm[0, 0, py, px + 1] = 0.5
    if py + 1 < 64:
        hm[0, 0, py + 1, px] = 0.5
    coords, _ = argmax_peaks(hm)
    out = quarter_offset(hm, coords)
    step = 0.25 if refined else 0.0
    np.testing.assert_array_equal(out[0, 0], np.float32([px + step, py + step]))


def test_sign_zero_means_no_shift():
    hm = _map()
    hm[0, 0, 10, 10] = 1.0
    hm[0, 0, 10, 9] = hm[0, 0, 10, 11] = 0.3  # equal x-neighbours -> no x shift
    hm[0, 0, 9, 10] = 0.4  # upper neighbour higher -> -0.25 in y
    coords, _ = argmax_peaks(hm)
    np.testing.assert_array_equal(quarter_offset(hm, coords)[0, 0], np.float32([10, 9.75]))


def test_nonpositive_peak_is_transformed_from_minus_one():
    hm = -np.ones((1, 1, 64, 48), np.float32)
    kp = decode_default(hm, C, S)
    want = transform_preds(np.array([[[-1, -1]]], np.float32), C, S, heatmap_size=(64, 48))
    np.testing.assert_array_equal(kp[0, 0, :2], want[0, 0])
    assert kp[0, 0, 2] == -1
