"""HRNet backbone in MMPose's pose configuration, built from timm's HRNet modules.

timm's `HighResolutionNet` names its parameters exactly as MMPose's `backbone.*` keys (stem conv1/bn1/conv2/bn2,
layer1, transition1..3, stage2..4 with branches/fuse_layers), with ONE structural difference: timm always builds
stage 4 with `multi_scale_output=True`, so the last stage-4 module fuses into all four branches. The pose
configuration (PROTOCOLS.md §1.1: no `multiscale_output` key -> False) fuses only into branch 0 and returns the
stride-4 branch-0 feature alone. `HRNetBackbone` therefore removes the extra fuse layers of stage 4's last module
(`stage4.<last>.fuse_layers.{1,2,3}`) in one explicit step, `_drop_multiscale_fuse`, and a test pins that the key
sets differ by exactly those keys (tests/harness/models/test_hrnet_timm_difference.py).

Everything else matches PROTOCOLS.md §1.1 as timm builds it: BN eps 1e-5; fuse j>i = 1x1 conv + BN + nearest
upsample x2^(j-i); fuse j<i = chain of 3x3 s2 convs (BN+ReLU on all but the last); sum over j (j = 0 first), then
ReLU; transitions fed from the last branch of the previous stage; identity transitions carry no keys.
"""

from __future__ import annotations

import torch
from timm.models.hrnet import HighResolutionNet
from torch import nn

from harness.errors import InputSizeError

#: Pose configuration of the backbone stages (PROTOCOLS.md §1.1); channels are multiples of the width W.
_STAGE_LAYOUT = {
    # stage: (num_modules, num_branches, block, num_blocks)
    "stage2": (1, 2, "BASIC", (4, 4)),
    "stage3": (4, 3, "BASIC", (4, 4, 4)),
    "stage4": (3, 4, "BASIC", (4, 4, 4, 4)),
}


def hrnet_pose_cfg(width: int) -> dict:
    """timm `cfg` dict of the pose HRNet of width W: branch channels (W, 2W, 4W, 8W), stage 1 = 4 bottlenecks (64)."""
    cfg: dict = {
        "stem_width": 64,
        "stage1": dict(
            num_modules=1,
            num_branches=1,
            block_type="BOTTLENECK",
            num_blocks=(4,),
            num_channels=(64,),
            fuse_method="SUM",
        ),
    }
    for stage, (modules, branches, block, blocks) in _STAGE_LAYOUT.items():
        cfg[stage] = dict(
            num_modules=modules,
            num_branches=branches,
            block_type=block,
            num_blocks=blocks,
            num_channels=tuple(width * 2**b for b in range(branches)),
            fuse_method="SUM",
        )
    return cfg


def build_timm_hrnet(width: int, *, device: torch.device | str | None = None) -> HighResolutionNet:
    """timm's HRNet of width W as timm builds it (multi-scale stage 4, no classification head).

    `head="features"` makes timm skip its incre/downsample/classifier head (no parameters, no keys); what remains is
    the stem, layer1, transitions and stages."""
    return HighResolutionNet(hrnet_pose_cfg(width), in_chans=3, head="features", device=device)


class HRNetBackbone(HighResolutionNet):
    """MMPose's pose HRNet (PROTOCOLS.md §1.1). `forward(x: [N,3,H,W]) -> [feature: [N, W, H/4, W/4]]`.

    Returns a list with one tensor, as MMPose's backbone does, so the heads take `x[0]`.
    """

    def __init__(self, width: int, *, device: torch.device | str | None = None) -> None:
        super().__init__(hrnet_pose_cfg(width), in_chans=3, head="features", device=device)
        self.width = width
        _drop_multiscale_fuse(self)
        # timm's classification-only attributes hold no parameters; delete them so the module is a pure backbone.
        del self.global_pool, self.head_drop, self.classifier

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        if x.shape[-2] % 32 or x.shape[-1] % 32:
            # Fuse layers upsample by fixed factors (nearest, scale 2^(j-i)), so branch sizes only line up when the
            # input is a multiple of the total stride 32; MMPose fails on such inputs too, less clearly.
            raise InputSizeError(
                f"HRNet input (H, W) = {tuple(x.shape[-2:])} is not a multiple of 32: resize or pad the input "
                "(top-down crops are 256x192 / 256x256; bottom-up inputs are padded to multiples of 64)"
            )
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        # `stages` runs layer1, the transitions (new branch from the last previous output) and stages 2-4.
        out = self.stages(x)
        if len(out) != 1:  # guarded by _drop_multiscale_fuse; a timm change that broke it must not pass silently
            raise RuntimeError(f"pose HRNet must return 1 feature map, got {len(out)}: timm's HRNet changed")
        return out


def _drop_multiscale_fuse(net: HighResolutionNet) -> None:
    """Turn timm's multi-scale last stage-4 module into the pose configuration's single-output one.

    PROTOCOLS.md §1.1: the last stage-4 module (`stage4.2`) has only `fuse_layers.0.*`; timm builds
    `fuse_layers.{0,1,2,3}` (it hard-codes multi_scale_output=True for stage 4). timm's HighResolutionModule.forward
    iterates over `fuse_layers`, so keeping only entry 0 yields exactly the branch-0 fused output, computed with the
    same operations (fuse_layers[0][j](x[j]) summed over j in order, then ReLU) as MMPose's.
    """
    last = net.stage4[-1]
    last.fuse_layers = nn.ModuleList([last.fuse_layers[0]])
    last.multi_scale_output = False
