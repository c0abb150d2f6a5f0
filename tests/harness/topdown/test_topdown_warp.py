"""The integer-exact torch warp is bit-identical to cv2.warpAffine (PROTOCOLS.md §10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SPECS, load_sample
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data.images import read_image
from harness.topdown.boxes import bbox_to_center_scale
from harness.topdown.crop import affine_matrices, crop_cv2
from harness.topdown.warp import warp_affine_fixed_point


def _torch_crops(images: list[np.ndarray], index: list[int], mats: np.ndarray, size) -> np.ndarray:
    hmax = max(i.shape[0] for i in images)
    wmax = max(i.shape[1] for i in images)
    batch = torch.zeros((len(images), 3, hmax, wmax), dtype=torch.uint8)
    for u, im in enumerate(images):
        batch[u, :, : im.shape[0], : im.shape[1]] = torch.from_numpy(im.copy()).permute(2, 0, 1)
    out = warp_affine_fixed_point(
        batch, mats, output_size=size, image_index=index, image_sizes=[im.shape[:2] for im in images]
    )
    return out.permute(0, 2, 3, 1).numpy()


def _check_sample(instances, spec):
    paths = sorted({str(i.image_path) for i in instances})
    images = [read_image(p) for p in paths]
    index = [paths.index(str(i.image_path)) for i in instances]
    c, s = bbox_to_center_scale(np.array([i.bbox for i in instances]), input_size=spec.input_size, padding=spec.padding)
    mats = affine_matrices(c, s, output_size=spec.input_size)
    ours = _torch_crops(images, index, mats, spec.input_size)  # one batch, several images of different sizes
    for n, (u, m) in enumerate(zip(index, mats, strict=True)):
        ref = crop_cv2(images[u], m, output_size=spec.input_size)
        diff = np.count_nonzero(ours[n] != ref)
        assert diff == 0, f"{spec.name} instance {n}: {diff} pixels differ from cv2"
    return len(instances)


@pytest.mark.parametrize("name", ["aic", "coco", "macaque", "atrw", "horse10"])
def test_bit_identical_on_every_gt_box(samples_dir, name):
    assert _check_sample(load_sample(samples_dir, name), SPECS[name]) > 0


@pytest.mark.slow
def test_bit_identical_on_all_118_coco_detection_crops(samples_dir):
    instances = load_sample(samples_dir, "coco", boxes="det")
    assert len(instances) == 118
    for start in range(0, 118, 40):
        _check_sample(instances[start : start + 40], SPECS["coco"])


@pytest.mark.parametrize(
    "matrix",
    [
        np.zeros((2, 3)),  # singular (what getAffineTransform gives for a zero-size box): OpenCV reads pixel (0, 0)
        np.array([[0.0, 0.0, 5.0], [0.0, 1.0, 2.0]]),  # singular, non-zero
        np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),  # identity
        np.array([[1.0, 0.0, -0.5], [0.0, 1.0, 0.5]]),  # half-pixel shift: rounding ties
        np.array([[1.0, 0.0, 1000.0], [0.0, 1.0, -1000.0]]),  # entirely outside: black
        np.array([[-1.0, 0.0, 15.0], [0.0, -1.0, 11.0]]),  # mirrored
    ],
)
def test_special_matrices(matrix):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    ref = crop_cv2(img, matrix, output_size=(9, 13))
    ours = _torch_crops([img], [0], matrix[None], (9, 13))[0]
    np.testing.assert_array_equal(ours, ref)


@settings(max_examples=60, deadline=None, database=None)
@given(
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    c=st.floats(-3, 3),
    d=st.floats(-3, 3),
    tx=st.floats(-40, 60),
    ty=st.floats(-40, 60),
    hw=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    out=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    seed=st.integers(0, 2**16),
)
def test_random_matrices_match_cv2(a, b, c, d, tx, ty, hw, out, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    m = np.array([[a, b, tx], [c, d, ty]], dtype=np.float64)
    ref = crop_cv2(img, m, output_size=out)
    ours = _torch_crops([img], [0], m[None], out)[0]
    np.testing.assert_array_equal(ours, ref)


@settings(max_examples=25, deadline=None, database=None)
@given(
    zoom=st.floats(0.05, 8.0),
    cx=st.floats(-50, 150),
    cy=st.floats(-50, 150),
    seed=st.integers(0, 2**16),
)
def test_random_crop_matrices_match_cv2(zoom, cx, cy, seed):
    """Matrices of the kind the pipeline builds (uniform zoom, box centre anywhere, even off-image)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    m = np.array([[zoom, 0, 16 - zoom * cx], [0, zoom, 16 - zoom * cy]], dtype=np.float64)
    ref = crop_cv2(img, m, output_size=(32, 32))
    np.testing.assert_array_equal(_torch_crops([img], [0], m[None], (32, 32))[0], ref)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bit_identical_on_cuda(samples_dir):
    """The same integer arithmetic on the GPU: every COCO detection crop equals cv2."""
    spec = SPECS["coco"]
    instances = load_sample(samples_dir, "coco", boxes="det")
    paths = sorted({str(i.image_path) for i in instances})
    images = [read_image(p) for p in paths]
    index = [paths.index(str(i.image_path)) for i in instances]
    c, s = bbox_to_center_scale(np.array([i.bbox for i in instances]), input_size=spec.input_size, padding=1.25)
    mats = affine_matrices(c, s, output_size=spec.input_size)
    batch = torch.zeros((len(images), 3, max(i.shape[0] for i in images), max(i.shape[1] for i in images)),
                        dtype=torch.uint8)  # fmt: skip
    for u, im in enumerate(images):
        batch[u, :, : im.shape[0], : im.shape[1]] = torch.from_numpy(im.copy()).permute(2, 0, 1)
    out = warp_affine_fixed_point(
        batch.cuda(), mats, output_size=spec.input_size, image_index=index, image_sizes=[i.shape[:2] for i in images]
    )
    ours = out.permute(0, 2, 3, 1).cpu().numpy()
    for n, (u, m) in enumerate(zip(index, mats, strict=True)):
        np.testing.assert_array_equal(ours[n], crop_cv2(images[u], m, output_size=spec.input_size))
