"""Bottom-up (Associative Embedding, HigherHRNet) test-time pipeline (PROTOCOLS.md §4).

resize -> model -> aggregate (stages, flip, scales) -> grouping (NMS, top-k, tag matching, adjust, refine) ->
projection to image pixels -> COCO results.
"""

from harness.bottomup.aggregate import ScaleAccumulator, scale_maps, stage_maps
from harness.bottomup.assignment import assign, munkres_classic
from harness.bottomup.grouping import parse
from harness.bottomup.inference import aggregate_image, predict_bottomup, predict_bottomup_dataset
from harness.bottomup.resize import ScaleGeometry, ScalePlan, plan_scales, scale_geometry
from harness.errors import BottomUpConfigError

__all__ = [
    "BottomUpConfigError",
    "ScaleAccumulator",
    "ScaleGeometry",
    "ScalePlan",
    "aggregate_image",
    "assign",
    "munkres_classic",
    "parse",
    "plan_scales",
    "predict_bottomup",
    "predict_bottomup_dataset",
    "scale_geometry",
    "scale_maps",
    "stage_maps",
]
