"""Every architecture of PROTOCOLS.md §1.3 builds with MMPose's exact key names, key counts and parameter counts."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.models.posenet import build_model
from zoo.registry.schema import Architecture

# (head, width, K) -> (keys, num_batches_tracked, total params): PROTOCOLS.md §1.3, verbatim.
TABLE_1_3 = {
    ("heatmap", 32, 14): (1754, 292, 28_536_014),
    ("heatmap", 32, 17): (1754, 292, 28_536_113),
    ("heatmap", 32, 15): (1754, 292, 28_536_047),
    ("heatmap", 32, 22): (1754, 292, 28_536_278),
    ("heatmap", 48, 17): (1754, 292, 63_595_745),
    ("heatmap", 48, 15): (1754, 292, 63_595_647),
    ("heatmap", 48, 22): (1754, 292, 63_595_990),
    ("associative_embedding", 32, 14): (1754, 292, 28_536_476),
    ("higher_resolution", 32, 17): (1810, 301, 28_645_331),
    ("higher_resolution", 48, 17): (1810, 301, 63_827_139),
}
BACKBONE_PARAMS = {32: 28_535_552, 48: 63_594_912}  # PROTOCOLS.md §1.1
HHR_HEAD_PARAMS = {32: 109_779, 48: 232_227}  # PROTOCOLS.md §1.3
BACKBONE_PREFIX_COUNTS = {  # PROTOCOLS.md §1.3
    "conv1": 1, "bn1": 5, "conv2": 1, "bn2": 5, "layer1": 78, "transition1": 12, "stage2": 108,
    "transition2": 6, "stage3": 744, "transition3": 6, "stage4": 786,
}  # fmt: skip


def arch(head: str, width: int, k: int) -> Architecture:
    return Architecture("hrnet", width, head, (256, 192), ((64, 48),), k, "test")  # type: ignore[arg-type]


@pytest.mark.parametrize(("head", "width", "k"), list(TABLE_1_3), ids=lambda v: str(v))
def test_counts_match_protocols_table(head: str, width: int, k: int) -> None:
    keys, nbt, params = TABLE_1_3[(head, width, k)]
    model = build_model(arch(head, width, k), device="meta")
    sd = model.state_dict()
    assert len(sd) == keys
    assert sum(key.endswith(".num_batches_tracked") for key in sd) == nbt
    assert sum(p.numel() for p in model.parameters()) == params
    assert sum(p.numel() for p in model.backbone.parameters()) == BACKBONE_PARAMS[width]
    if head == "higher_resolution":
        assert sum(p.numel() for p in model.keypoint_head.parameters()) == HHR_HEAD_PARAMS[width]


@pytest.mark.parametrize("head", ["heatmap", "associative_embedding", "higher_resolution"])
def test_prefix_counts(head: str) -> None:
    sd = build_model(arch(head, 32, 17), device="meta").state_dict()
    assert all(key.startswith(("backbone.", "keypoint_head.")) for key in sd)
    backbone = Counter(key.split(".")[1] for key in sd if key.startswith("backbone."))
    assert dict(backbone) == BACKBONE_PREFIX_COUNTS
    head_counts = Counter(key.split(".")[1] for key in sd if key.startswith("keypoint_head."))
    expected = {"final_layers": 4, "deconv_layers": 54} if head == "higher_resolution" else {"final_layer": 2}
    assert dict(head_counts) == expected


def test_head_key_names_and_shapes() -> None:
    """PROTOCOLS.md §1.2 names and shapes, HigherHRNet W32 and AE AIC."""
    hhr = {
        k: tuple(v.shape) for k, v in build_model(arch("higher_resolution", 32, 17), device="meta").state_dict().items()
    }
    assert hhr["keypoint_head.final_layers.0.weight"] == (34, 32, 1, 1)
    assert hhr["keypoint_head.final_layers.1.weight"] == (17, 32, 1, 1)
    assert hhr["keypoint_head.deconv_layers.0.0.0.weight"] == (66, 32, 4, 4)  # ConvTranspose2d: (in, out, k, k)
    assert "keypoint_head.deconv_layers.0.0.0.bias" not in hhr
    assert "keypoint_head.deconv_layers.0.0.1.num_batches_tracked" in hhr
    for b in range(1, 5):
        assert hhr[f"keypoint_head.deconv_layers.0.{b}.0.conv2.weight"] == (32, 32, 3, 3)
    ae = build_model(arch("associative_embedding", 32, 14), device="meta").state_dict()
    assert tuple(ae["keypoint_head.final_layer.weight"].shape) == (28, 32, 1, 1)
    assert tuple(ae["keypoint_head.final_layer.bias"].shape) == (28,)


def test_pose_configuration_last_module_fuses_into_branch_zero_only() -> None:
    sd = build_model(arch("heatmap", 32, 17), device="meta").state_dict()
    fuse_targets = {key.split(".")[4] for key in sd if key.startswith("backbone.stage4.2.fuse_layers.")}
    assert fuse_targets == {"0"}
    for m in (0, 1):  # earlier stage-4 modules fuse into all four branches
        assert {key.split(".")[4] for key in sd if key.startswith(f"backbone.stage4.{m}.fuse_layers.")} == set("0123")


@pytest.mark.parametrize("width", [8, 16])
def test_small_widths_have_w_2w_4w_8w_channels(width: int) -> None:
    sd = build_model(arch("heatmap", width, 5), device="meta").state_dict()
    for b in range(4):
        assert sd[f"backbone.stage4.0.branches.{b}.0.conv1.weight"].shape[0] == width * 2**b
    assert tuple(sd["keypoint_head.final_layer.weight"].shape) == (5, width, 1, 1)
