"""Rescoring, per-image dedupe, OKS-NMS and COCO results (PROTOCOLS.md §3, §5, §8 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import COCO_SIGMAS

from harness.topdown.output import TopdownOutput
from harness.topdown.postprocess import rescore, to_coco_results
from tests.harness.topdown.reference import oks_matrix, oks_nms, per_image_to_coco_results, sort_and_dedupe


def test_rescore_uses_strictly_greater_than_vis_thr():
    ks = np.array([[0.2, 0.2, 0.6, 0.8], [0.2, 0.1, 0.0, 0.2], [0.3, 0.3, 0.3, 0.3]], np.float32)
    got = rescore(ks, np.array([1.0, 1.0, 0.5], np.float32), vis_thr=0.2)
    assert got.dtype == np.float64
    # 0.2 (as float32 0.2 == float32 vis_thr) is not > 0.2: only 0.6 and 0.8 count.
    assert got[0] == (float(np.float32(0.6)) + float(np.float32(0.8))) / 2
    assert got[1] == 0.0  # none above: 0
    assert got[2] == float(np.float32(0.3)) * 4 / 4 * float(np.float32(0.5))


def _oks_reference(g, d, a_g, a_d, sigmas):
    """Straight per-pair loop, PROTOCOLS.md §3 (kept as float32 like the reference's result array)."""
    var = (np.asarray(sigmas) * 2) ** 2
    dx = d[:, 0] - g[:, 0]
    dy = d[:, 1] - g[:, 1]
    e = (dx**2 + dy**2) / var / ((a_g + a_d) / 2 + np.spacing(1)) / 2
    return np.float32(np.sum(np.exp(-e)) / len(e))


def _nms_reference(kpts, scores, areas, thr, sigmas):
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        ovr = np.array([_oks_reference(kpts[i], kpts[j], areas[i], areas[j], sigmas) for j in order[1:]], np.float32)
        order = order[np.where(ovr <= thr)[0] + 1]
    return keep


def _random_case(rng, n, k=17):
    centers = rng.uniform(50, 400, (n // 3 + 1, 2))
    pick = rng.integers(0, len(centers), n)
    kp = np.zeros((n, k, 3), np.float32)
    kp[..., :2] = centers[pick][:, None, :] + rng.normal(0, rng.choice([1, 5, 30]), (n, k, 2))
    kp[..., 2] = rng.random((n, k))
    areas = (rng.uniform(20, 200, n) ** 2).astype(np.float32)
    scores = np.round(rng.random(n), 1)  # coarse: many ties, to pin the argsort()[::-1] order
    return kp, scores, areas


@pytest.mark.parametrize("seed", range(12))
def test_oks_nms_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    kp, scores, areas = _random_case(rng, int(rng.integers(1, 40)))
    for thr in (0.5, 0.9):
        got = oks_nms(kp, scores, areas, thr=thr, sigmas=COCO_SIGMAS)
        assert got.tolist() == _nms_reference(kp, scores, areas, thr, COCO_SIGMAS)


def test_oks_matrix_matches_pairwise_reference_bitwise():
    rng = np.random.default_rng(7)
    kp, _, areas = _random_case(rng, 9)
    m = oks_matrix(kp, areas, COCO_SIGMAS)
    for i in range(9):
        for j in range(9):
            assert m[i, j] == _oks_reference(kp[i], kp[j], areas[i], areas[j], COCO_SIGMAS)
    np.testing.assert_array_equal(np.diag(m), 1)


def test_oks_nms_keeps_at_threshold_and_drops_above():
    kp = np.zeros((2, 17, 3), np.float32)
    areas = np.full(2, 1e4, np.float32)
    same = oks_nms(kp, np.array([0.9, 0.8]), areas, thr=0.9, sigmas=COCO_SIGMAS)
    assert same.tolist() == [0]  # OKS 1 > 0.9: dropped
    kept = oks_nms(kp, np.array([0.9, 0.8]), areas, thr=1.0, sigmas=COCO_SIGMAS)
    assert kept.tolist() == [0, 1]  # OKS 1 <= 1.0: kept


def test_sort_and_dedupe():
    assert sort_and_dedupe(np.array([3, 1, 3, 0, 1])).tolist() == [3, 1, 0]


def _output(kp, image_ids, bbox_ids, bbox_scores):
    n = len(kp)
    return TopdownOutput(
        keypoints=kp,
        centers=np.tile(np.float32([100.5, 50.25]), (n, 1)),
        scales=np.tile(np.float32([1.0, 1.25]), (n, 1)),
        areas=np.full(n, 200 * 250, np.float32),
        bbox_scores=np.asarray(bbox_scores, np.float32),
        bbox_ids=np.asarray(bbox_ids, np.int64),
        image_ids=np.asarray(image_ids, np.int64),
    )


def test_to_coco_results_format_order_and_nms():
    rng = np.random.default_rng(0)
    kp = np.zeros((5, 17, 3), np.float32)
    kp[..., :2] = rng.uniform(0, 300, (5, 17, 2))
    kp[..., 2] = 0.5
    kp[2] = kp[1]  # duplicate pose of a different box in image 7 -> removed by OKS-NMS
    kp[2, :, 2] = 0.4
    out = _output(kp, image_ids=[9, 7, 7, 7, 9], bbox_ids=[0, 1, 0, 1, 1], bbox_scores=[1, 1, 1, 0.5, 1])
    res = to_coco_results(out, vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    # image 9 first (first seen); image 7: rows sorted by bbox_id, duplicate bbox_id 1 (row 3) dropped, then
    # row 2 (bbox 0, score 0.4) is suppressed by row 1 (score 0.5). Image 9's two scores tie: argsort()[::-1]
    # puts the later row first.
    assert [(r["image_id"], r["bbox_id"]) for r in res] == [(9, 1), (9, 0), (7, 1)]
    r = res[0]
    assert set(r) == {"image_id", "category_id", "keypoints", "score", "center", "scale", "area", "bbox_id"}
    assert r["category_id"] == 1 and len(r["keypoints"]) == 51
    assert all(type(v) is float for v in r["keypoints"])
    assert r["keypoints"][:3] == [float(v) for v in kp[4, 0]]
    assert r["score"] == pytest.approx(0.5)
    assert r["center"] == [100.5, 50.25] and r["area"] == 50000.0
    no_nms = to_coco_results(out, vis_thr=0.2, oks_nms_thr=None, sigmas=None)
    assert [(r["image_id"], r["bbox_id"]) for r in no_nms] == [(9, 0), (9, 1), (7, 0), (7, 1)]


# --- to_coco_results (batched over images) == the per-image loop it replaced ------------------------------------


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
        bbox_scores=np.round(rng.uniform(0, 1, n), 1).astype(np.float32),  # tied scores
        bbox_ids=rng.integers(0, max(2, n // 2), n),  # duplicate and unsorted bbox_ids
        image_ids=rng.choice([5, 3, 11, 7], n),  # interleaved images: first-seen order matters
    )


@pytest.mark.parametrize("seed", range(16))
def test_batched_to_coco_results_equalsper_image_to_coco_results(seed):
    out = _random_output(seed)
    for thr in (0.9, 0.5, None):  # None: NMS off
        kw = dict(vis_thr=0.2, oks_nms_thr=thr, sigmas=COCO_SIGMAS)
        assert to_coco_results(out, **kw) == per_image_to_coco_results(out, **kw)


def test_batched_to_coco_results_edge_cases():
    one = _random_output(3).take(np.array([0]))
    empty = _random_output(3).take(np.zeros(0, dtype=np.int64))
    kw = dict(vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    assert to_coco_results(one, **kw) == per_image_to_coco_results(one, **kw) and len(to_coco_results(one, **kw)) == 1
    assert to_coco_results(empty, **kw) == [] == per_image_to_coco_results(empty, **kw)
    # Many single-box images and one crowded image land in different buckets.
    rng = np.random.default_rng(0)
    big = _random_output(5)
    ids = np.where(rng.random(len(big)) < 0.5, np.arange(len(big)) + 100, 1)
    mixed = TopdownOutput(big.keypoints, big.centers, big.scales, big.areas, big.bbox_scores, big.bbox_ids, ids)
    assert to_coco_results(mixed, **kw) == per_image_to_coco_results(mixed, **kw)


def test_batched_to_coco_results_on_synthetic_coco_like_set():
    from benchmarks.synthetic import make_ground_truth, make_topdown_outputs

    out = make_topdown_outputs(make_ground_truth(size="small", seed=1), seed=1)
    kw = dict(vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    res = to_coco_results(out, **kw)
    assert res == per_image_to_coco_results(out, **kw) and len(res) < len(out)
