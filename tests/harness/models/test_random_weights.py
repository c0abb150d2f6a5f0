"""Seeded random MMPose-format weights (ORACLE.md): reproducible, O(1) activations, mmcv file layout."""

from __future__ import annotations

import numpy as np
import torch

from harness.checkpoints import load_checkpoint
from harness.testing import make_random_checkpoint, make_random_model
from zoo.schema import Architecture

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
    assert y_raw.abs().max() > 100 * y.abs().max()  # without recalibration activations blow up (ORACLE.md)
