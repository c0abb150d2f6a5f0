"""Top-down evaluation parity: `python -m harness evaluate ... --protocol mmpose-0.29` gives MMPose 0.29's
predictions and metrics on the sample data of all five top-down datasets (docs/PARITY.md).

Per case: oracle/make_weights.py makes seeded random MMPose-format weights; MMPose 0.29 (oracle/evaluate.py) and our
CLI evaluate the same file on the same images and boxes. Predictions are matched by (image_id, bbox_id) (the oracle's
bbox_id is recovered from its raw outputs, parity_helpers.attach_bbox_ids). Required:
- the same set of instances after OKS-NMS, in the same order within each image;
- every keypoint within 1e-3 px; keypoint maxvals within 1e-5 of the instance's largest |maxval| and instance
  scores within 1e-5 relative (the forward parity tolerance; float32 forwards of the two implementations were
  bit-identical in one run and 1.5e-4 apart on maxvals up to 180 in another, i.e. ~1e-6 of the heatmap scale);
- the metrics equal to 1e-9 (AP, AP50, AP75, AR, AR50; Horse-10: MMPose 0.29's 'PCK').
Random weights score ~0 AP on these few images, so the metric check mostly guards the plumbing (same images, same
instances, same evaluator settings); the keypoint and score checks are the strong ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.oracle.parity_helpers import (
    COCO_METRIC_NAMES,
    attach_bbox_ids,
    compare_topdown,
    metric_differences,
    run_harness_evaluate,
    run_oracle_evaluate,
    subset_annotations,
)

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

BODY = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap"
ANIMAL = "configs/animal/2d_kpt_sview_rgb_img/topdown_heatmap"
KEYPOINT_PX = 1e-3
SCORE_REL = 1e-5
METRIC_ABS = 1e-9


@dataclass(frozen=True)
class Case:
    entry: str
    config: str  # 0.x config (PROTOCOLS.md §2.1)
    folder: str  # under samples/
    ann: str
    num_keypoints: int
    bbox_file: str | None = None  # detector boxes (COCO-aug rows)
    #: Only these images (detector case: ~60 of the 118 boxes keep the oracle run short on 2 cores).
    image_ids: tuple[int, ...] | None = None
    metrics: tuple[tuple[str, str], ...] = tuple(COCO_METRIC_NAMES.items())
    #: A known, documented score gap that waits on wiring outside this test's reach (docs/PARITY.md).


CASES = {
    "aic": Case("hrnet_w32_aic_256x192", f"{BODY}/aic/hrnet_w32_aic_256x192.py", "aic", "test_aic.json", 14),
    # Images 785 (22 boxes) and 197388 (37, with a duplicated box of two detector scores: OKS-NMS and the
    # score-order tie-breaking both matter).
    "coco-det": Case(
        "hrnet_w32_coco_256x192_coarsedropout",
        f"{BODY}/coco/hrnet_w32_coco_256x192_coarsedropout.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785, 197388),
    ),
    "horse10": Case(
        "hrnet_w32_horse10_256x256_split1",
        f"{ANIMAL}/horse10/hrnet_w32_horse10_256x256-split1.py",
        "horse10",
        "test_horse10.json",
        22,
        metrics=(("PCK", "PCK"),),  # mmpose-0.29 protocol: 0.29's generic PCK@0.2 (PROTOCOLS.md §5)
    ),
    "macaque": Case(
        "hrnet_w32_macaque_256x192",
        f"{ANIMAL}/macaque/hrnet_w32_macaque_256x192.py",
        "macaque",
        "test_macaque.json",
        17,
    ),
    # COCO decoding variants (PROTOCOLS.md §3.1), each on image 785's 22 detector boxes: plain W48, plain at 384x288,
    # DARK, UDP (UDP affine + UDP decoding, no heatmap shift) and UDP with CombinedTarget offsets (a 3K-channel head).
    "coco-w48": Case(
        "hrnet_w48_coco_256x192",
        f"{BODY}/coco/hrnet_w48_coco_256x192.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785,),
    ),
    "coco-384x288": Case(
        "hrnet_w32_coco_384x288",
        f"{BODY}/coco/hrnet_w32_coco_384x288.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785,),
    ),
    "coco-dark": Case(
        "hrnet_w32_coco_256x192_dark",
        f"{BODY}/coco/hrnet_w32_coco_256x192_dark.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785,),
    ),
    "coco-udp": Case(
        "hrnet_w32_coco_256x192_udp",
        f"{BODY}/coco/hrnet_w32_coco_256x192_udp.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785,),
    ),
    "coco-udp-regress": Case(
        "hrnet_w32_coco_256x192_udp_regress",
        f"{BODY}/coco/hrnet_w32_coco_256x192_udp_regress.py",
        "coco",
        "test_coco.json",
        17,
        bbox_file="test_coco_det_AP_H_56.json",
        image_ids=(785,),
    ),
    # ATRW: padding 1.0, square input (PROTOCOLS.md §8 item 1).
    "atrw": Case("hrnet_w48_atrw_256x256", f"{ANIMAL}/atrw/hrnet_w48_atrw_256x256.py", "atrw", "test_atrw.json", 15),
}


def _subset_detections(det_file: Path, image_ids: tuple[int, ...], out: Path) -> Path:
    dets = [d for d in json.loads(det_file.read_text()) if d["image_id"] in set(image_ids)]
    out.write_text(json.dumps(dets))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_topdown_evaluation_matches_mmpose(name, oracle, oracle_checkpoint, samples_dir, tmp_path):
    case = CASES[name]
    data = samples_dir / case.folder
    ann = data / case.ann
    bbox = data / case.bbox_file if case.bbox_file else None
    if case.image_ids:
        ann = subset_annotations(ann, case.image_ids, tmp_path / "ann.json")
        if bbox is not None:
            bbox = _subset_detections(bbox, case.image_ids, tmp_path / "dets.json")
    ckpt = oracle_checkpoint(case.config, 0)

    ref = run_oracle_evaluate(
        oracle, case.config, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "oracle", bbox_file=bbox
    )
    preds, metrics = run_harness_evaluate(
        case.entry, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "ours", bbox_file=bbox
    )

    theirs = attach_bbox_ids(ref, ann)
    assert theirs, f"{name}: the oracle kept no instance"
    cmp = compare_topdown(preds, theirs, num_keypoints=case.num_keypoints)
    detail = f"{name}: {cmp.summary()}"
    assert not cmp.only_ours and not cmp.only_oracle, f"instance sets differ after NMS; {detail}"
    assert not cmp.order_differs, f"instance order differs; {detail}"
    assert cmp.max_keypoint_px <= KEYPOINT_PX, detail
    assert cmp.max_keypoint_score_rel <= SCORE_REL, detail
    assert not ref.metrics["failed"], f"{name}: the oracle's evaluation raised {ref.metrics['failed']}"
    diffs = metric_differences(metrics["metrics"], ref.metrics["values"], dict(case.metrics), tol=METRIC_ABS)
    assert not diffs, f"{name}: metrics differ (ours, oracle): {diffs}"
    assert cmp.max_score_rel <= SCORE_REL, detail
