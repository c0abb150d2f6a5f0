"""`PoseNet` = backbone + keypoint_head, with MMPose's state_dict prefixes, and `build_model(arch)`."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from harness.errors import ArchitectureError
from harness.models.heads import AssociativeEmbeddingHead, HeatmapHead, HigherResolutionHead
from harness.models.hrnet import HRNetBackbone
from zoo.registry.schema import Architecture

_HEADS: dict[str, type[nn.Module]] = {
    "heatmap": HeatmapHead,
    "associative_embedding": AssociativeEmbeddingHead,
    "higher_resolution": HigherResolutionHead,
}


class PoseNet(nn.Module):
    """`backbone.*` + `keypoint_head.*` exactly as MMPose's TopDown / AssociativeEmbedding detectors name them.

    forward(img: [N, 3, H, W], RGB normalised, PROTOCOLS.md §2.3):
      - heatmap head: heatmaps [N, K, H/4, W/4]
      - associative_embedding: [out [N, 2K, H/4, W/4]]
      - higher_resolution: [out0 [N, 2K, H/4, W/4], out1 [N, K, H/2, W/2]]
    """

    def __init__(self, backbone: nn.Module, keypoint_head: nn.Module, *, architecture: Architecture) -> None:
        super().__init__()
        self.backbone = backbone
        self.keypoint_head = keypoint_head
        self.architecture = architecture

    def forward(self, img: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return self.keypoint_head(self.backbone(img))


def build_model(arch: Architecture, *, device: torch.device | str | None = None) -> PoseNet:
    """The network an Architecture record describes (PROTOCOLS.md §1), with freshly initialised weights, in eval mode.

    `device="meta"` builds without allocating memory (for parameter/key counting).
    """
    if arch.backbone != "hrnet":
        raise ArchitectureError(f"unsupported backbone {arch.backbone!r}: expected 'hrnet' (PROTOCOLS.md §1.1)")
    if not isinstance(arch.width, int) or arch.width < 1:
        raise ArchitectureError(f"HRNet width must be a positive int (32, 48, or small for demos), got {arch.width!r}")
    if arch.head not in _HEADS:
        raise ArchitectureError(f"unsupported head {arch.head!r}: expected one of {sorted(_HEADS)}")
    if not isinstance(arch.num_keypoints, int) or arch.num_keypoints < 1:
        raise ArchitectureError(f"num_keypoints must be a positive int, got {arch.num_keypoints!r}")
    with torch.device(device) if device is not None else contextlib.nullcontext():
        backbone = HRNetBackbone(arch.width, device=device)
        # The head sees the stride-4 branch-0 feature: C = W (PROTOCOLS.md §1.2).
        # A CombinedTarget head has 3 channels per keypoint (PROTOCOLS.md §3.1): arch.head_channels.
        channels = arch.head_channels if arch.head == "heatmap" else arch.num_keypoints
        head = _HEADS[arch.head](arch.width, channels)
    return PoseNet(backbone, head, architecture=arch).eval()
