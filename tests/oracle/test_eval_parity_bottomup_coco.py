"""Bottom-up COCO parity for the AE HRNet and UDP rows (issue 25): `python -m harness evaluate ... --protocol
mmpose-0.29` gives MMPose 0.29's persons and metrics for AE HRNet (single and multi-scale), AE HRNet with UDP and
HigherHRNet with UDP (docs/PARITY.md, "Bottom-up COCO: AE HRNet and UDP").

Same procedure as test_eval_parity_bottomup.py (seeded random weights made sparse, one sample image), with the
tighter keypoint check of this issue: every keypoint of every person within 1e-3 px of its twin. The UDP cases run
the oracle with `--udp-adjust-on-copy`: MMPose's DARK adjust rewrites the heatmap tensor in place when it lives on
the CPU, which it does not on the GPUs that made the published numbers (docs/PARITY.md, "Bottom-up UDP on the CPU").
A UDP model is the plain model with other test settings, so the UDP AE case loads the plain AE config's weights.
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

AE = "configs/body/2d_kpt_sview_rgb_img/associative_embedding/coco"
MATCH_PX = 1e-3
SCORE_ABS = 1e-4
METRIC_ABS = 1e-9


@dataclass(frozen=True)
class Case:
    row: str  # ENTRY/ROW
    config: str  # what the oracle evaluates
    weights: str  # the config oracle/make_weights.py builds the random model from
    image_ids: tuple[int, ...]
    scales: tuple[float, ...]
    udp: bool = False


CASES = {
    "ae-coco-single": Case(
        "hrnet_w32_coco_512x512/single-scale", f"{AE}/hrnet_w32_coco_512x512.py", f"{AE}/hrnet_w32_coco_512x512.py",
        (40083,), (1.0,),
    ),
    "ae-coco-multi": Case(
        "hrnet_w32_coco_512x512/multi-scale", f"{AE}/hrnet_w32_coco_512x512.py", f"{AE}/hrnet_w32_coco_512x512.py",
        (40083,), (2.0, 1.0, 0.5),
    ),
    "ae-coco-udp": Case(
        "hrnet_w32_coco_512x512_udp/single-scale", f"{AE}/hrnet_w32_coco_512x512_udp.py",
        f"{AE}/hrnet_w32_coco_512x512.py", (40083,), (1.0,), udp=True,
    ),
    "hhr-coco-udp": Case(
        "higher_hrnet32_coco_512x512_udp/single-scale", f"{AE}/higherhrnet_w32_coco_512x512_udp.py",
        f"{AE}/higherhrnet_w32_coco_512x512.py", (40083,), (1.0,), udp=True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_bottomup_coco_evaluation_matches_mmpose(name, oracle, oracle_checkpoint, samples_dir, tmp_path):
    case = CASES[name]
    data = samples_dir / "coco"
    ann = subset_annotations(data / "test_coco.json", case.image_ids, tmp_path / "ann.json")
    ckpt = tmp_path / "sparse.pth"
    entry = case.row.partition("/")[0]
    info = sparsify_bottomup_checkpoint(
        oracle_checkpoint(case.weights, 0), ckpt, entry=entry, ann_file=ann, img_dir=data, scales=case.scales
    )
    assert sum(info["candidates"]) > 0 and max(info["candidates"]) <= 2 * 17, f"{name}: {info}"

    extra = ("--udp-adjust-on-copy",) if case.udp else ()
    ref = run_oracle_evaluate(
        oracle, case.config, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "oracle",
        scales=case.scales, extra=extra,
    )  # fmt: skip
    preds, metrics = run_harness_evaluate(case.row, checkpoint=ckpt, ann_file=ann, img_dir=data, out=tmp_path / "ours")

    assert ref.results, f"{name}: the oracle found no person; the sparsified weights are too sparse ({info})"
    cmp = compare_bottomup(preds, ref.results, num_keypoints=17, px=MATCH_PX)
    detail = f"{name}: {cmp.summary()}"
    print(detail)
    assert cmp.oracle_persons == cmp.our_persons == cmp.paired_persons, detail
    assert cmp.matched_keypoints == cmp.oracle_keypoints == cmp.our_keypoints, detail
    assert cmp.max_score_diff <= SCORE_ABS, detail
    assert not ref.metrics["failed"], f"{name}: the oracle's evaluation raised {ref.metrics['failed']}"
    diffs = metric_differences(metrics["metrics"], ref.metrics["values"], COCO_METRIC_NAMES, tol=METRIC_ABS)
    assert not diffs, f"{name}: metrics differ (ours, oracle): {diffs}"
