"""Geometry self-test: a ground-truth stand-in model must come back near-perfect through the whole bottom-up
pipeline (resize, flip, stage and scale aggregation, grouping, adjust/refine, projection) at every scale set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.bottomup.inference import predict_bottomup, predict_bottomup_dataset
from harness.bottomup.resize import plan_scales
from harness.data.images import read_image
from tests.helpers.protocols import bottomup_protocol
from tests.helpers.standin_bottomup import BottomUpStandIn, gt_keypoints
from zoo.registry.load import load_registry

# (dataset, annotation file, head, stage aggregation)
CASES = [
    ("coco", "coco/test_coco.json", "higher_resolution", "upsample_to_last"),
    ("coco", "coco/test_coco.json", "higher_resolution", "direct"),
    ("aic", "aic/test_aic.json", "associative_embedding", "direct"),
]
SCALE_SETS = [(1.0,), pytest.param((2.0, 1.0, 0.5), marks=pytest.mark.slow)]


INPUT_SIZE = 512


def _run_args(schema, scales, aggregation) -> dict:
    protocol = bottomup_protocol(scales=scales, stage_aggregation=aggregation, grouping_max_groups=30)
    return {"protocol": protocol, "schema": schema, "input_size": INPUT_SIZE}


def _run(samples_dir, dataset, ann, head, scales, aggregation):
    schema = load_registry().schemas[dataset]
    gt = json.loads((samples_dir / ann).read_text())
    run = _run_args(schema, scales, aggregation)
    results, per_image = [], []
    for img in gt["images"]:
        image = read_image(samples_dir / dataset / img["file_name"])
        anns = [a for a in gt["annotations"] if a["image_id"] == img["id"]]
        kpts = gt_keypoints(anns, num_keypoints=schema.num_keypoints)
        plan = plan_scales(image.shape[:2], input_size=INPUT_SIZE, factors=scales)
        model = BottomUpStandIn(image, kpts, plan=plan, head=head, flip_index=schema.flip_index)
        preds = predict_bottomup(model, image, image_id=img["id"], **run)
        results += preds
        per_image.append((kpts, preds, plan))
    return schema, gt, results, per_image


@pytest.mark.parametrize("scales", SCALE_SETS)
@pytest.mark.parametrize(("dataset", "ann", "head", "aggregation"), CASES)
def test_standin_comes_back_near_perfect(samples_dir, dataset, ann, head, aggregation, scales):
    schema, gt, results, per_image = _run(samples_dir, dataset, ann, head, scales, aggregation)
    for kpts, preds, plan in per_image:
        assert len(preds) == len(kpts)  # one person per annotated person, nobody split or merged
        pred = np.array([p["keypoints"] for p in preds]).reshape(len(preds), -1, 3)
        # Stride-4 maps upsampled bilinearly peak on the stride grid: at most 2 canvas px per axis at scale 1,
        # plus the quarter step; in image pixels that is ~2.5 * (image short side / canvas short side).
        px = plan.base.scale[1] * 200 / plan.base_size_hw[0]
        for person in kpts:
            vis = person[:, 2] > 0
            err = np.linalg.norm(pred[:, vis, :2] - person[None, vis, :2], axis=2)
            best = err.mean(axis=1).argmin()
            assert err[best].max() < 2.5 * px, f"max keypoint error {err[best].max():.2f} px"
            assert (pred[best, vis, 2] > 0.5).all()
    coco = pytest.importorskip("harness.metrics.coco")
    metrics = coco.evaluate_coco_keypoints(
        results, gt, sigmas=schema.sigmas, use_area=dataset != "aic", per_keypoint=False
    )
    assert metrics.metrics["AP"] >= 0.99
    assert metrics.metrics["AR"] >= 0.99


class _Counting(torch.nn.Module):
    """An AE model that sees nothing: zero heatmaps and tags. Records the input sizes it is called with."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k, self.calls = k, []

    def forward(self, x):
        self.calls.append(tuple(x.shape[2:]))
        return [torch.zeros(1, 2 * self.k, x.shape[2] // 4, x.shape[3] // 4)]


def test_dataset_loop_runs_every_image_including_empty_ones(samples_dir, tmp_path):
    data = json.loads((samples_dir / "aic/test_aic.json").read_text())
    extra = dict(data["images"][0], id=999)  # an image id without annotations
    data["images"].append(extra)
    ann = tmp_path / "aic_with_empty.json"
    ann.write_text(json.dumps(data))
    schema = load_registry().schemas["aic"]
    model = _Counting(schema.num_keypoints)
    run = _run_args(schema, (2.0, 1.0, 0.5), "direct")
    assert predict_bottomup_dataset(model, ann, samples_dir / "aic", **run) == []
    assert len(model.calls) == 4 * 3 * 2  # 4 images x 3 scales x (orig + flip)
    h = model.calls[0][0]
    assert [c[0] / h for c in model.calls[:6:2]] == [1.0, 0.5, 0.25]  # scales in descending order
