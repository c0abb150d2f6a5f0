"""predict_topdown: batch-size / order / worker invariance, crop backends, model-output errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SPECS, load_sample

import harness.data.images as images_mod
from harness.errors import ModelOutputError
from harness.topdown.inference import predict_topdown
from tests.helpers.protocols import keypoint_schema, topdown_protocol
from tests.helpers.standin import GTHeatmapStandIn


class TinyPoseNet(torch.nn.Module):
    """Stride-4 conv net with BN: [N, 3, H, W] -> [N, K, H/4, W/4]."""

    def __init__(self, k: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, k, 3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.fixture(scope="module")
def coco_gt(samples_dir):
    return load_sample(samples_dir, "coco")


def _run(model, instances, **kw):
    spec = SPECS["coco"]
    args = dict(protocol=topdown_protocol(padding=spec.padding, flip=True, shift_heatmap=True),
                schema=keypoint_schema(spec.num_keypoints, spec.flip_pairs), input_size=spec.input_size)  # fmt: skip
    args.update(kw)
    return predict_topdown(model, instances, **args)


def _assert_same(a, b):
    for f in ("keypoints", "centers", "scales", "areas", "bbox_scores", "bbox_ids", "image_ids"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_batch_size_order_and_workers_do_not_change_results(coco_gt):
    model = TinyPoseNet(17)
    ref = _run(model, coco_gt, batch_size=1)
    assert ref.keypoints.shape == (12, 17, 3) and ref.keypoints.dtype == np.float32
    _assert_same(ref, _run(model, coco_gt, batch_size=7))
    _assert_same(ref, _run(model, coco_gt, batch_size=5, num_workers=2))
    perm = np.random.default_rng(0).permutation(len(coco_gt))
    shuffled = _run(model, [coco_gt[i] for i in perm], batch_size=7)
    _assert_same(ref.take(perm), shuffled)


def test_cv2_and_torch_crops_give_identical_predictions(coco_gt):
    model = TinyPoseNet(17)
    _assert_same(_run(model, coco_gt, batch_size=7), _run(model, coco_gt, batch_size=7, crop_backend="torch"))


def test_model_is_left_in_its_mode_and_inputs_untouched(coco_gt):
    model = TinyPoseNet(17).train()
    _run(model, coco_gt[:2])
    assert model.training


def test_each_image_is_decoded_once(coco_gt, monkeypatch):
    calls = []
    real = images_mod.read_image
    monkeypatch.setattr(images_mod, "read_image", lambda p: calls.append(str(p)) or real(p))
    _run(TinyPoseNet(17), coco_gt, batch_size=3)
    assert sorted(calls) == sorted({str(i.image_path) for i in coco_gt})


class _Broken(torch.nn.Module):
    def __init__(self, k, bad_row=None):
        super().__init__()
        self.k, self.bad_row = k, bad_row

    def forward(self, x):
        out = torch.zeros(x.shape[0], self.k, x.shape[2] // 4, x.shape[3] // 4)
        if self.bad_row is not None and self.bad_row < x.shape[0]:
            out[self.bad_row, 0, 0, 0] = float("nan")
        return out


def test_non_finite_output_names_the_instance(coco_gt):
    with pytest.raises(ModelOutputError, match=r"non-finite.*image_id 40083, bbox_id 1"):
        _run(_Broken(17, bad_row=2), coco_gt, batch_size=4)


def test_channel_mismatch_is_reported(coco_gt):
    with pytest.raises(ModelOutputError, match=r"keypoint count .*14.* does not match the dataset's .*17"):
        _run(_Broken(14), coco_gt)


def test_wrong_output_type_is_reported(coco_gt):
    with pytest.raises(ModelOutputError, match="heatmaps"):
        _run(lambda x: [x], coco_gt[:1])


def test_standin_refuses_plain_forward():
    with pytest.raises(TypeError, match="forward_with_meta"):
        GTHeatmapStandIn(17)(torch.zeros(1, 3, 8, 8))
