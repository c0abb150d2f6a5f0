"""HRNet backbone + heads with MMPose's state_dict names (PROTOCOLS.md §1)."""

from harness.models.entry import build_from_entry
from harness.models.heads import AssociativeEmbeddingHead, HeatmapHead, HigherResolutionHead
from harness.models.hrnet import HRNetBackbone, InputSizeError, build_timm_hrnet, hrnet_pose_cfg
from harness.models.posenet import ArchitectureError, PoseNet, build_model

__all__ = [
    "ArchitectureError",
    "AssociativeEmbeddingHead",
    "HRNetBackbone",
    "HeatmapHead",
    "HigherResolutionHead",
    "InputSizeError",
    "PoseNet",
    "build_from_entry",
    "build_model",
    "build_timm_hrnet",
    "hrnet_pose_cfg",
]
