"""Bottom-up evaluation parity: `python -m harness evaluate ... --protocol mmpose-0.29` gives MMPose 0.29's persons
and metrics for AE (AIC) and HigherHRNet (COCO), single scale and [2, 1, 0.5] (docs/PARITY.md).

Per case: oracle/make_weights.py makes seeded random MMPose-format weights; their heatmap bias is then shifted so
that at most 2 NMS peaks per joint and image stay above the detection threshold (parity_helpers.
sparsify_bottomup_checkpoint; random weights otherwise yield hundreds of people per image and MMPose's refine takes
minutes). MMPose 0.29 (oracle/evaluate.py, test_scale_factor set in BottomUpGetImgSize) and our CLI evaluate that
same file on 1-2 sample images. Required: at least 99% of the oracle's keypoints matched within 0.5 px by ours and
vice versa (persons paired per image), paired person scores within 1e-4, metrics equal to 1e-9.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.oracle.parity_helpers import (
    COCO_METRIC_NAMES,
    compare_bottomup,
    metric_differences,
    run_harness_evaluate,
    run_oracle_evaluate,
    sparsify_bottomup_checkpoint,
    subset_annotations,
)

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

AE = "configs/body/2d_kpt_sview_rgb_img/associative_embedding"
MATCH_PX = 0.5
MATCHED_FRACTION = 0.99
SCORE_ABS = 1e-4
METRIC_ABS = 1e-9


@dataclass(frozen=True)
class Case:
    row: str  # ENTRY/ROW
    config: str
    folder: str
    ann: str
    num_keypoints: int
    image_ids: tuple[int, ...]
    scales: tuple[float, ...]


CASES = {
    "ae-aic-single": Case(
        "hrnet_w32_aic_512x512/single-scale", f"{AE}/aic/hrnet_w32_aic_512x512.py", "aic", "test_aic.json", 14,
        (1, 2), (1.0,),
    ),
    "ae-aic-multi": Case(
        "hrnet_w32_aic_512x512/multi-scale", f"{AE}/aic/hrnet_w32_aic_512x512.py", "aic", "test_aic.json", 14,
        (1,), (2.0, 1.0, 0.5),
    ),
    "hhr-coco-single": Case(
        "higher_hrnet32_coco_512x512/single-scale", f"{AE}/coco/higherhrnet_w32_coco_512x512.py", "coco",
        "test_coco.json", 17, (40083, 785), (1.0,),
    ),
    "hhr-coco-multi": Case(
        "higher_hrnet32_coco_512x512/multi-scale", f"{AE}/coco/higherhrnet_w32_coco_512x512.py", "coco",
        "test_coco.json", 17, (40083,), (2.0, 1.0, 0.5),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_bottomup_evaluation_matches_mmpose(name, oracle, oracle_checkpoint, samples_dir, tmp_path):
    case = CASES[name]
    data = samples_dir / case.folder
    ann = subset_annotations(data / case.ann, case.image_ids, tmp_path / "ann.json")
    ckpt = tmp_path / "sparse.pth"
    info = sparsify_bottomup_checkpoint(
        oracle_checkpoint(case.config, 0),
        ckpt,
        entry=case.row.partition("/")[0],
        ann_file=ann,
        img_dir=data,
        scales=case.scales,
    )
    # At most 2 peaks per joint and image: <= 2K candidates, hence <= 2K persons per image.
    assert sum(info["candidates"]) > 0 and max(info["candidates"]) <= 2 * case.num_keypoints, f"{name}: {info}"

    ref = run_oracle_evaluate(
        oracle, case.config, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "oracle", scales=case.scales
    )
    preds, metrics = run_harness_evaluate(case.row, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "ours")

    assert ref.results, f"{name}: the oracle found no person; the sparsified weights are too sparse ({info})"
    cmp = compare_bottomup(preds, ref.results, num_keypoints=case.num_keypoints, px=MATCH_PX)
    detail = f"{name}: {cmp.summary()}"
    assert cmp.oracle_matched_fraction >= MATCHED_FRACTION, detail
    assert cmp.ours_matched_fraction >= MATCHED_FRACTION, detail
    assert cmp.max_score_diff <= SCORE_ABS, detail
    assert not ref.metrics["failed"], f"{name}: the oracle's evaluation raised {ref.metrics['failed']}"
    diffs = metric_differences(metrics["metrics"], ref.metrics["values"], COCO_METRIC_NAMES, tol=METRIC_ABS)
    assert not diffs, f"{name}: metrics differ (ours, oracle): {diffs}"
