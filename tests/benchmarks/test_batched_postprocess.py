"""benchmarks/batched_postprocess.py returns exactly what harness.topdown.postprocess.to_coco_results returns
(record for record, floats compared with ==), including duplicate bbox_ids, tied scores, single-box images,
interleaved images and NMS off."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.batched_postprocess import results_as_dicts, select_results
from benchmarks.synthetic import COCO_SIGMAS, make_ground_truth, make_topdown_outputs
from harness.topdown.output import TopdownOutput
from harness.topdown.postprocess import to_coco_results


def _both(output: TopdownOutput, **kw) -> tuple[list[dict], list[dict]]:
    rows, scores = select_results(output, **kw)
    return results_as_dicts(output, rows, scores), to_coco_results(output, **kw)


def _random_output(seed: int) -> TopdownOutput:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    base = rng.uniform(0, 300, (6, 17, 2))  # few distinct poses -> near-duplicates that NMS suppresses
    kp = np.concatenate([base[rng.integers(0, 6, n)] + rng.normal(0, rng.choice([0.0, 0.5, 20.0]), (n, 17, 2)),
                         np.round(rng.uniform(0, 1, (n, 17, 1)), 1)], axis=2)  # fmt: skip
    scales = rng.uniform(0.2, 2, (n, 2)).astype(np.float32)
    return TopdownOutput(
        keypoints=kp.astype(np.float32),
        centers=rng.uniform(0, 600, (n, 2)).astype(np.float32),
        scales=scales,
        areas=(scales[:, 0] * 200 * scales[:, 1] * 200).astype(np.float32),
        bbox_scores=np.round(rng.uniform(0, 1, n), 1).astype(np.float32),  # ties
        bbox_ids=rng.integers(0, max(2, n // 2), n),  # duplicates, unsorted
        image_ids=rng.choice([5, 3, 11, 7], n),  # interleaved, first-seen order matters
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_outputs_identical(seed: int) -> None:
    out = _random_output(seed)
    for thr in (0.9, 0.5, None):
        ours, ref = _both(out, vis_thr=0.2, oks_nms_thr=thr, sigmas=COCO_SIGMAS)
        assert ours == ref


def test_synthetic_small_identical() -> None:
    out = make_topdown_outputs(make_ground_truth(size="small", seed=1), seed=1)
    ours, ref = _both(out, vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    assert ours == ref and len(ours) < len(out)
