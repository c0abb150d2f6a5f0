"""The oracle runs: MMPose 0.29 makes seeded random weights and runs the raw network forward on them."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

AIC_TD = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/aic/hrnet_w32_aic_256x192.py"


def test_make_weights_and_forward_topdown_aic(oracle, oracle_checkpoint):
    ckpt = oracle_checkpoint(AIC_TD, 0)
    x = np.random.default_rng(0).standard_normal((2, 3, 128, 96), dtype=np.float32)
    (heatmaps,) = oracle.forward(AIC_TD, ckpt, x, name="smoke-aic-td")
    # PROTOCOLS.md §1.2: K=14 heatmaps at stride 4 of the input.
    assert heatmaps.shape == (2, 14, 32, 24)
    assert heatmaps.dtype == np.float32
    assert np.isfinite(heatmaps).all()
    # BN recalibration keeps random-weight activations bounded (values of order one to ten; docs/PARITY.md,
    # "The oracle environment").
    assert 0.1 < float(heatmaps.std()) < 100.0


def test_forward_rejects_a_checkpoint_that_does_not_fit(oracle, oracle_checkpoint, tmp_path):
    """Strict loading: a W32 AIC file (K=14) does not load into the COCO W32 top-down model (K=17)."""
    from harness.errors import OracleError

    ckpt = oracle_checkpoint(AIC_TD, 0)
    coco = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/hrnet_w32_coco_256x192_coarsedropout.py"
    x = np.zeros((1, 3, 64, 64), dtype=np.float32)
    with pytest.raises(OracleError, match=r"size mismatch|keypoint_head\.final_layer"):
        oracle.forward(coco, ckpt, x, name="smoke-mismatch")
