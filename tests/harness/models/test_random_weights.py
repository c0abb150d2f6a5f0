"""Seeded random MMPose-format weights (PARITY.md "The oracle environment"): reproducible, O(1) activations, mmcv file
layout; heatmap peaks limited for fast bottom-up runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.checkpoints.safe_load import load_checkpoint
from harness.models.random_weights import make_random_checkpoint, make_random_model
from tests.helpers.heatmap_peaks import limit_heatmap_peaks_, stage_mean_heatmaps
from zoo.registry.schema import Architecture

ARCH = Architecture("hrnet", 8, "heatmap", (64, 64), ((16, 16),), 17, "test")


def test_same_seed_same_bytes_different_seed_differs(tmp_path) -> None:
    torch.set_num_threads(1)
    a = make_random_checkpoint(ARCH, tmp_path / "a.pth", seed=7, input_size=(64, 64))
    b = make_random_checkpoint(ARCH, tmp_path / "b.pth", seed=7, input_size=(64, 64))
    c = make_random_checkpoint(ARCH, tmp_path / "c.pth", seed=8, input_size=(64, 64))
    sa, sb, sc = (load_checkpoint(p).state_dict for p in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["backbone.conv1.weight"], sc["backbone.conv1.weight"])


def test_file_layout_and_numpy_meta(tmp_path) -> None:
    path = make_random_checkpoint(ARCH, tmp_path / "r.pth", seed=0, input_size=(64, 64))
    loaded = load_checkpoint(path)
    assert loaded.format == "mmpose" and loaded.other_keys == ()
    meta = loaded.meta
    assert isinstance(meta["epoch"], np.int64) and isinstance(meta["hook_msgs"]["best_score"], np.float64)
    nbt = [v for k, v in loaded.state_dict.items() if k.endswith("num_batches_tracked")]
    assert nbt and all(int(v) == 3 for v in nbt)


def test_calibrated_activations_are_order_one() -> None:
    torch.set_num_threads(1)
    calibrated = make_random_model(ARCH, seed=0, input_size=(64, 64))
    raw = make_random_model(ARCH, seed=0, calibrate_bn=False)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        y, y_raw = calibrated(x), raw(x)
    assert 0.1 < y.std().item() < 30
    assert y_raw.abs().max() > 100 * y.abs().max()  # without recalibration activations blow up


AE = Architecture("hrnet", 8, "associative_embedding", (64, 64), ((16, 16),), 17, "test")
HIGHER = Architecture("hrnet", 8, "higher_resolution", (64, 64), ((16, 16), (32, 32)), 17, "test")


@pytest.mark.parametrize("arch", [ARCH, AE, HIGHER], ids=["topdown", "ae", "higher"])
def test_limit_heatmap_peaks_leaves_the_fraction_above_threshold_and_tags_alone(arch) -> None:
    torch.set_num_threads(1)
    k = arch.num_keypoints
    model = make_random_model(arch, seed=0, input_size=(64, 64))
    images = [torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    with torch.no_grad():
        before = [model(x) for x in images]
    scale, shift = limit_heatmap_peaks_(model, images, num_keypoints=k, fraction=0.01, threshold=0.1)
    assert shift.shape == (k,) and 0 < scale <= 1
    with torch.no_grad():
        after = [model(x) for x in images]
        maps = torch.cat([stage_mean_heatmaps(model, x, num_keypoints=k) for x in images], dim=-1)
    assert float(maps.abs().max()) <= 1 + float(shift.abs().max()) + 1e-5  # scaled to O(1) before the shift
    per_joint = (maps > 0.1).sum(dim=(0, 2, 3))  # pixels per joint: 2 images of 16 x 24 (or 32 x 48)
    target = round(0.01 * maps[:, 0].numel())
    assert (per_joint == target).all(), (per_joint, target)  # the threshold sits midway between two pixels
    for b, a in zip(before, after, strict=True):
        stages_b, stages_a = ([b], [a]) if isinstance(b, torch.Tensor) else (b, a)
        torch.testing.assert_close(stages_a[0][:, k:], stages_b[0][:, k:], rtol=0, atol=0)  # tags
        if len(stages_b) > 1:  # HigherHRNet: stage 0's heatmaps are scaled; what the deconvolution sees is not
            torch.testing.assert_close(stages_a[0][:, :k], stages_b[0][:, :k] * scale, rtol=1e-5, atol=1e-6)
        # the last stage's heatmaps: scaled, then moved by shift * stages, everywhere
        moved = (stages_a[-1][:, :k] - stages_b[-1][:, :k] * scale).mean(dim=(0, 2, 3))
        torch.testing.assert_close(moved, shift * len(stages_b), rtol=1e-4, atol=1e-4)


def test_limit_heatmap_peaks_rejects_bad_arguments() -> None:
    model = make_random_model(ARCH, seed=0, calibrate_bn=False)
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(ValueError, match="fraction"):
        limit_heatmap_peaks_(model, [x], num_keypoints=17, fraction=0.0)
    with pytest.raises(ValueError, match="at least one image"):
        limit_heatmap_peaks_(model, [], num_keypoints=17)
    with pytest.raises(ValueError, match="keypoint_head"):
        limit_heatmap_peaks_(torch.nn.Identity(), [x], num_keypoints=17)


def test_limit_heatmap_peaks_ties_mirror_pairs() -> None:
    """With a flip test a joint's map also holds its mirror partner's channel: the pair gets one shift."""
    torch.set_num_threads(1)
    model = make_random_model(AE, seed=1, input_size=(64, 64))
    flip_index = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    _, shift = limit_heatmap_peaks_(model, [x], num_keypoints=17, fraction=0.01, flip_index=flip_index)
    torch.testing.assert_close(shift, shift[flip_index], rtol=0, atol=0)
    with pytest.raises(ValueError, match="permutation"):
        limit_heatmap_peaks_(model, [x], num_keypoints=17, flip_index=[0] * 17)
