"""Pose heads with MMPose 0.x state_dict names (PROTOCOLS.md §1.2). Each takes the backbone's list of one feature.

- `HeatmapHead` (TopdownHeatmapSimpleHead, num_deconv_layers=0, final_conv_kernel=1): `final_layer` 1x1 conv C->K.
  forward: [feat [N,C,h,w]] -> heatmaps [N,K,h,w].
- `AssociativeEmbeddingHead` (AESimpleHead, tag_per_joint): `final_layer` 1x1 conv C->2K.
  forward: [feat] -> [out [N,2K,h,w]], channels 0..K-1 heatmaps, K..2K-1 tags.
- `HigherResolutionHead` (AEHigherResolutionHead, one deconv stage, cat_output [True]):
  forward: [feat] -> [out0 [N,2K,h,w], out1 [N,K,2h,2w]].
"""

from __future__ import annotations

import torch
from timm.models.resnet import BasicBlock
from torch import nn


def _conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    # PROTOCOLS.md §1.2: final_conv_kernel=1 -> kernel 1, padding 0, with bias.
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=True)


class HeatmapHead(nn.Module):
    """Top-down heatmap head: `final_layer` (K, C, 1, 1) + bias. Heatmap at stride 4 of the input."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.final_layer = _conv1x1(in_channels, num_keypoints)

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return self.final_layer(x[0])


class AssociativeEmbeddingHead(nn.Module):
    """Bottom-up AE head, one tag map per joint: `final_layer` (2K, C, 1, 1) + bias; returns a list of one tensor."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.final_layer = _conv1x1(in_channels, 2 * num_keypoints)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.final_layer(x[0])]


class HigherResolutionHead(nn.Module):
    """HigherHRNet head (PROTOCOLS.md §1.2).

    `final_layers.0`: 1x1 C->2K (heatmaps + tags, stride 4). `deconv_layers.0.0` = [ConvTranspose2d(C+2K -> C, k4 s2
    p1, output_padding 0, no bias), BN, ReLU] applied to concat(feature, out0) (feature FIRST), then
    `deconv_layers.0.{1..4}.0` = 4 BasicBlocks C->C (each wrapped in a Sequential, hence the trailing `.0`), and
    `final_layers.1`: 1x1 C->K (heatmaps only, stride 2).
    """

    num_basic_blocks = 4

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        c, k = in_channels, num_keypoints
        self.final_layers = nn.ModuleList([_conv1x1(c, 2 * k), _conv1x1(c, k)])
        # k4 s2 -> padding 1, output_padding 0 doubles the size exactly (PROTOCOLS.md §1.2).
        deconv = nn.Sequential(
            nn.ConvTranspose2d(c + 2 * k, c, kernel_size=4, stride=2, padding=1, output_padding=0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        )
        # timm's BasicBlock has MMPose's structure and names: conv3x3/bn1/ReLU/conv3x3/bn2, + identity, ReLU.
        blocks = [nn.Sequential(BasicBlock(c, c)) for _ in range(self.num_basic_blocks)]
        self.deconv_layers = nn.ModuleList([nn.Sequential(deconv, *blocks)])

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        feat = x[0]
        out0 = self.final_layers[0](feat)
        # cat_output [True]: the stage-0 output (heatmaps AND tags) joins the feature, feature first.
        up = self.deconv_layers[0](torch.cat((feat, out0), dim=1))
        return [out0, self.final_layers[1](up)]
