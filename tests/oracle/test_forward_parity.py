"""Our networks reproduce MMPose 0.29's raw forward (backbone + head) on MMPose-made checkpoints.

For each architecture family: oracle/make_weights.py makes seeded random weights (BN recalibrated), our model loads
them strictly, and both run the same seeded float32 batch. Relative difference per output:
max|ours - mmpose| / max|mmpose| < 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from harness.checkpoints.safe_load import load_checkpoint
from harness.checkpoints.strict import load_state_dict_strict
from harness.models.posenet import build_model
from zoo.registry.schema import Architecture

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

TOL = 1e-5
CFG = "configs/body/2d_kpt_sview_rgb_img"
ANIMAL = "configs/animal/2d_kpt_sview_rgb_img"


@dataclass(frozen=True)
class Case:
    config: str  # 0.x config path (PROTOCOLS.md §2.1)
    arch: Architecture
    #: (H, W) of the test batch; small sizes keep the CPU time down (multiples of 32, PROTOCOLS.md §1.1).
    input_hw: tuple[int, int]
    #: BN calibration size (H, W) passed to make_weights; None = the config's input size.
    calib_hw: tuple[int, int] | None = None


def _td(width: int, k: int, schema: str, hw: tuple[int, int]) -> Architecture:
    return Architecture(
        backbone="hrnet", width=width, head="heatmap", input_size=hw,
        heatmap_sizes=((hw[0] // 4, hw[1] // 4),), num_keypoints=k, keypoint_schema=schema,
    )  # fmt: skip


def _bu(width: int, k: int, schema: str, head: str, size: int) -> Architecture:
    stages = ((size // 4, size // 4),) if head == "associative_embedding" else ((size // 4,) * 2, (size // 2,) * 2)
    return Architecture(
        backbone="hrnet", width=width, head=head, input_size=(size, size),
        heatmap_sizes=stages, num_keypoints=k, keypoint_schema=schema,
    )  # fmt: skip


CASES = {
    "td-w32-aic": Case(
        f"{CFG}/topdown_heatmap/aic/hrnet_w32_aic_256x192.py", _td(32, 14, "aic", (256, 192)), (128, 96)
    ),
    "td-w48-macaque": Case(
        f"{ANIMAL}/topdown_heatmap/macaque/hrnet_w48_macaque_256x192.py", _td(48, 17, "macaque", (256, 192)), (128, 96)
    ),
    "ae-w32-aic": Case(
        f"{CFG}/associative_embedding/aic/hrnet_w32_aic_512x512.py",
        _bu(32, 14, "aic", "associative_embedding", 512),
        (256, 256),
        calib_hw=(256, 256),
    ),
    "hhr-w32-512": Case(
        f"{CFG}/associative_embedding/coco/higherhrnet_w32_coco_512x512.py",
        _bu(32, 17, "coco", "higher_resolution", 512),
        (256, 256),
        calib_hw=(256, 256),
    ),
    "hhr-w48-512": Case(
        f"{CFG}/associative_embedding/coco/higherhrnet_w48_coco_512x512.py",
        _bu(48, 17, "coco", "higher_resolution", 512),
        (256, 256),
        calib_hw=(256, 256),
    ),
}


def relative_difference(ours: np.ndarray, ref: np.ndarray) -> float:
    """max|ours - ref| / max|ref| (shapes must match)."""
    return float(np.abs(ours.astype(np.float64) - ref).max() / np.abs(ref.astype(np.float64)).max())


def run_ours(case: Case, checkpoint, x: np.ndarray) -> list[np.ndarray]:
    model = build_model(case.arch)
    load_state_dict_strict(model, load_checkpoint(checkpoint).state_dict)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.numpy() for o in outs]


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_mmpose(name, oracle, oracle_checkpoint):
    case = CASES[name]
    ckpt = oracle_checkpoint(case.config, 1, case.calib_hw)
    x = np.random.default_rng(123).standard_normal((2, 3, *case.input_hw), dtype=np.float32)
    ref = oracle.forward(case.config, ckpt, x, name=name)
    ours = run_ours(case, ckpt, x)
    assert [o.shape for o in ours] == [r.shape for r in ref], "output count or shapes differ from MMPose"
    for i, (o, r) in enumerate(zip(ours, ref, strict=True)):
        assert np.isfinite(r).all() and np.abs(r).max() > 0, f"{name}: MMPose output {i} is degenerate"
        rel = relative_difference(o, r)
        assert rel < TOL, f"{name}: output {i} {list(r.shape)} relative difference {rel:.3g} >= {TOL}"
