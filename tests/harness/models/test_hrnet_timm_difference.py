"""Our backbone is timm's HRNet minus the extra fuse layers of stage 4's last module (PROTOCOLS.md §1.1)."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from harness.models.hrnet import HRNetBackbone, build_timm_hrnet


@pytest.mark.parametrize("width", [32, 48])
def test_key_sets_differ_exactly_by_the_multiscale_fuse_layers(width: int) -> None:
    ours = set(HRNetBackbone(width, device="meta").state_dict())
    timm_keys = set(build_timm_hrnet(width, device="meta").state_dict())
    assert ours <= timm_keys
    extra = timm_keys - ours
    assert extra, "timm now builds the pose configuration itself: simplify HRNetBackbone"
    assert all(re.match(r"stage4\.2\.fuse_layers\.[123]\.", k) for k in extra), sorted(extra)[:5]
    # every fuse target 1..3 of the last module is gone, and nothing else
    assert {k.split(".")[3] for k in extra} == {"1", "2", "3"}
    assert not any(k.startswith("stage4.2.fuse_layers.") and k.split(".")[3] != "0" for k in ours)


def test_shared_keys_have_equal_shapes() -> None:
    ours = HRNetBackbone(32, device="meta").state_dict()
    theirs = build_timm_hrnet(32, device="meta").state_dict()
    assert all(tuple(v.shape) == tuple(theirs[k].shape) for k, v in ours.items())


def test_backbone_returns_only_the_stride4_branch() -> None:
    torch.manual_seed(0)
    net = HRNetBackbone(8).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 64, 96))
    assert len(out) == 1 and out[0].shape == (1, 8, 16, 24)


def test_protocol_details_bn_eps_and_nearest_upsampling() -> None:
    net = HRNetBackbone(8, device="meta")
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-5 for m in bns)
    ups = [m for m in net.modules() if isinstance(m, nn.Upsample)]
    assert ups and all(m.mode == "nearest" and m.align_corners is None for m in ups)
