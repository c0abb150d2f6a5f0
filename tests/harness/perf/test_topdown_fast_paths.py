"""The fast top-down paths give IDENTICAL predictions and metrics to the exact path on the COCO sample data.

- crop_backend="torch" (integer-exact warp) == "cv2": same keypoints bit for bit through a pixel-sensitive model;
- `to_coco_results` (batched over images) == the per-image reference (tests/harness/topdown/reference.py);
- scoring backend "fast" == "library" (xtcocotools, the evaluator of record): every metric and per-joint value ==.
Fast MODE (bf16 autocast, channels_last) is not identical by design; its drift is measured by the benchmark
(benchmarks/cases/topdown_inference.py) and reported in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.synthetic import COCO_SIGMAS
from harness.data.coco_style import load_detection_instances, load_gt_instances
from harness.metrics.evaluators import score
from harness.topdown.inference import predict_topdown
from harness.topdown.postprocess import to_coco_results
from tests.harness.topdown.reference import per_image_to_coco_results
from tests.helpers.protocols import keypoint_schema, topdown_protocol
from tests.helpers.standin import GTHeatmapStandIn, attach_gt_keypoints
from zoo.registry.load import load_registry

PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
KW = dict(
    protocol=topdown_protocol(padding=1.25, flip=True, shift_heatmap=True),
    schema=keypoint_schema(17, PAIRS),
    input_size=(256, 192),
    batch_size=16,
)


class _PixelNet(torch.nn.Module):
    """A seeded strided conv: every heatmap value depends on the crop's pixels (unlike the GT stand-in)."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 17, 4, stride=4)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=gen) * 0.1)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@pytest.fixture(scope="module")
def coco(samples_dir):
    d = samples_dir / "coco"
    det = load_detection_instances(d / "test_coco_det_AP_H_56.json", ann_file=d / "test_coco.json", img_dir=d)
    gt = load_gt_instances(d / "test_coco.json", img_dir=d, gt_box_shrink=False).instances
    # Two of the four images (22 + 26 boxes) keep the test short on a 2-core CPU.
    return d, tuple(i for i in det.instances if i.image_id in (785, 40083)), gt


def test_torch_crop_backend_identical_on_sample_detections(coco) -> None:
    _, det, _ = coco
    model = _PixelNet().eval()
    cv2_out = predict_topdown(model, det, crop_backend="cv2", **KW)
    torch_out = predict_topdown(model, det, crop_backend="torch", **KW)
    assert np.array_equal(cv2_out.keypoints, torch_out.keypoints)
    assert len(np.unique(cv2_out.keypoints[..., :2])) > 100  # the model does look at the pixels


@pytest.mark.parametrize("boxes", ["gt", "det"])
def test_postprocess_and_scoring_fast_paths_identical_on_sample(coco, boxes: str) -> None:
    d, det, gt = coco
    instances = gt if boxes == "gt" else attach_gt_keypoints(det, gt, min_iou=0.5)
    out = predict_topdown(GTHeatmapStandIn(17), instances, **KW)
    # Duplicated boxes (same bbox_id, another score) and interleaved images exercise dedupe and ordering.
    out = out.take(np.r_[np.arange(len(out)), np.arange(0, len(out), 3)][::-1])
    kw = dict(vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    results = to_coco_results(out, **kw)
    assert results == per_image_to_coco_results(out, **kw) and 0 < len(results) < len(out)

    reg = load_registry()
    entry = reg.entry("hrnet_w32_coco_256x192_coarsedropout")
    evaluator = entry.results[0].protocol.evaluator
    schema = reg.schemas[entry.architecture.keypoint_schema]
    lib = score(results, evaluator=evaluator, gt=d / "test_coco.json", schema=schema)
    fast = score(results, evaluator=evaluator, gt=d / "test_coco.json", schema=schema, backend="fast")
    assert fast["scoring"]["backend"] == "fast" and lib["scoring"]["backend"] == "library"
    assert fast["metrics"] == lib["metrics"] and fast["extra_metrics"] == lib["extra_metrics"]
    assert fast["per_keypoint"] == lib["per_keypoint"] and fast["counts"] == lib["counts"]
    assert lib["metrics"]["AP50"] > 0.2  # meaningful metrics, not all zero (det: 2 of the 4 images)
