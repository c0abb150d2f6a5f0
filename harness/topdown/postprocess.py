"""Top-down post-processing before COCO-style scoring: rescoring, per-image dedupe, OKS-NMS (PROTOCOLS.md §3).

The numeric types follow the reference as the model-zoo-era NumPy (1.x) evaluated it: keypoints, areas and box
scores are float32; the keypoint score mean and the instance score are float64; OKS is computed per candidate in
float64 from float32 distances and stored as float32 before the comparison with the threshold.

`to_coco_results` runs without per-image Python work (`select_results`): per image (first-seen order) rows sorted by
bbox_id and deduplicated, rescored (row-wise, so one call for all rows gives the same values), then greedy OKS-NMS.
The OKS of every unordered pair of boxes of an image is computed once, for many images at once, with the same
float32/float64 operations as the reference's OKS matrix (elementwise, and the joint sum over a contiguous last
axis, as numpy sums a 1-D row), laid into matrices padded within buckets of similar box counts. The visiting order
is `argsort()[::-1]` of each image's own score array (numpy's non-stable sort: its tie order depends on the array,
so it is called per image); the greedy suppression then runs for all images of a bucket in one loop over ranks.
The per-image loop it replaced (dedupe, `rescore`, OKS-NMS one image at a time) lives in
tests/harness/topdown/reference.py: the reference it is compared with on every test run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.gc_paused import gc_paused
from harness.topdown.output import TopdownOutput

PERSON_CATEGORY = 1


def rescore(keypoint_scores: np.ndarray, bbox_scores: np.ndarray, *, vis_thr: float) -> np.ndarray:
    """[N] float64 instance scores: mean of the maxvals STRICTLY above vis_thr (0 if none) times the box score.

    PROTOCOLS.md §3 / §8 item 4. keypoint_scores: [N, K] float32; bbox_scores: [N]. Sums run left to right in float64,
    as the reference's Python loop does.
    """
    ks = np.asarray(keypoint_scores, dtype=np.float32)
    mask = ks > np.float32(vis_thr)
    total = np.cumsum(np.where(mask, ks, 0).astype(np.float64), axis=1)[:, -1] if ks.shape[1] else np.zeros(len(ks))
    count = mask.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return mean * np.asarray(bbox_scores, dtype=np.float32).astype(np.float64)


#: Pairs per OKS chunk: bounds the [chunk, K] float64 temporaries to ~30 MB.
_CHUNK_PAIRS = 200_000


def _order_rows(output: TopdownOutput) -> tuple[np.ndarray, np.ndarray]:
    """(rows sorted by (image first-seen, bbox_id stable) with duplicate bbox_ids dropped, their image rank)."""
    ids = np.asarray(output.image_ids)
    _, inverse = np.unique(ids, return_inverse=True)
    uniq_first = np.full(inverse.max() + 1 if len(ids) else 0, len(ids), dtype=np.int64)
    np.minimum.at(uniq_first, inverse, np.arange(len(ids)))
    rank_of_unique = np.argsort(np.argsort(uniq_first, kind="stable"), kind="stable")
    img_rank = rank_of_unique[inverse]
    bbox = np.asarray(output.bbox_ids)
    order = np.lexsort((np.arange(len(ids)), bbox, img_rank))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (img_rank[order][1:] != img_rank[order][:-1]) | (bbox[order][1:] != bbox[order][:-1])
    return order[first], img_rank[order[first]]


def _oks_pairs(kp: np.ndarray, area: np.ndarray, pi: np.ndarray, pj: np.ndarray, var: np.ndarray) -> np.ndarray:
    """[P] float32 OKS of row pairs (pi, pj): the elementwise operations of the reference's `oks_matrix`
    (tests/harness/topdown/reference.py), whose result is exactly symmetric (squared differences, commutative
    float32 area sum), so each unordered pair is computed once."""
    out = np.empty(len(pi), dtype=np.float32)
    for c in range(0, len(pi), _CHUNK_PAIRS):
        i, j = pi[c : c + _CHUNK_PAIRS], pj[c : c + _CHUNK_PAIRS]
        dx = kp[j, :, 0] - kp[i, :, 0]  # float32 [P, K]
        dy = kp[j, :, 1] - kp[i, :, 1]
        d2 = dx**2 + dy**2
        a = (area[i] + area[j]).astype(np.float64) / 2 + np.spacing(1)
        e = d2 / var / a[:, None] / 2
        out[c : c + _CHUNK_PAIRS] = (np.sum(np.exp(-e), axis=-1) / kp.shape[1]).astype(np.float32)
    return out


def _nms_bucket(kp, area, rows, scores, start, counts, var, thr32) -> list[np.ndarray]:
    """Kept positions (keep order) of B images: image b holds rows[start[b] : start[b] + counts[b]] of kp [N, K, 3]
    float32, area [N] float32 (indexed by those rows) and scores (indexed by position)."""
    b, n = len(counts), int(counts.max())
    oks = np.ones((b, n, n), dtype=np.float32)
    for c in np.unique(counts):
        imgs = np.flatnonzero(counts == c)
        iu, ju = np.triu_indices(int(c), 1)
        pi = (start[imgs][:, None] + iu[None, :]).ravel()
        pj = (start[imgs][:, None] + ju[None, :]).ravel()
        v = _oks_pairs(kp, area, rows[pi], rows[pj], var).reshape(len(imgs), len(iu))
        oks[imgs[:, None], iu[None, :], ju[None, :]] = v
        oks[imgs[:, None], ju[None, :], iu[None, :]] = v
    order = np.zeros((b, n), dtype=np.int64)
    for i, (s0, c) in enumerate(zip(start.tolist(), counts.tolist(), strict=True)):
        order[i, :c] = scores[s0 : s0 + c].argsort()[::-1]  # per image: the reference's own tie order
    sorted_oks = np.take_along_axis(np.take_along_axis(oks, order[:, :, None], 1), order[:, None, :], 2)
    alive = np.arange(n)[None, :] < counts[:, None]
    kept = np.zeros((b, n), dtype=bool)
    for r in range(n):
        keep = alive[:, r]
        kept[:, r] = keep
        alive &= ~(keep[:, None] & (sorted_oks[:, r, :] > thr32))
        alive[:, r] = False
    return [order[i][kept[i]] for i in range(b)]


def select_results(
    output: TopdownOutput, *, vis_thr: float | None, oks_nms_thr: float | None, sigmas: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows [M] into `output`, scores [M] float64) of the COCO results `to_coco_results` would return, in its order.
    vis_thr None: no rescoring, the score is the box score (see `to_coco_results`)."""
    if oks_nms_thr is not None and sigmas is None:
        raise ValueError("OKS-NMS needs the dataset's sigmas")
    rows, img = _order_rows(output)
    if vis_thr is None:
        scores = np.asarray(output.bbox_scores[rows], dtype=np.float32).astype(np.float64)
    else:
        scores = rescore(output.keypoints[rows][..., 2], output.bbox_scores[rows], vis_thr=vis_thr)
    if oks_nms_thr is None or not len(rows):
        return rows, scores
    start = np.flatnonzero(np.r_[True, img[1:] != img[:-1]])
    counts = np.diff(np.r_[start, len(rows)])
    var = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    keep_per_image: list[np.ndarray] = [np.zeros(0, np.int64)] * len(start)
    bucket = np.ceil(np.log2(counts)).astype(np.int64)
    kp, area = output.keypoints.astype(np.float32), output.areas.astype(np.float32)
    for bk in np.unique(bucket):
        sel = np.flatnonzero(bucket == bk)
        kept = _nms_bucket(kp, area, rows, scores, start[sel], counts[sel], var, np.float32(oks_nms_thr))
        for i, k in zip(sel.tolist(), kept, strict=True):
            keep_per_image[i] = start[i] + k
    sel = np.concatenate(keep_per_image)
    return rows[sel], scores[sel]


def results_as_dicts(output: TopdownOutput, rows: np.ndarray, scores: np.ndarray) -> list[dict]:
    """The `to_coco_results` dicts of the selected rows (one tolist() per field, not per instance)."""
    with gc_paused():  # ~100k dicts of lists: the collector's passes would cost 4x the building (gc_paused.py)
        return _results_as_dicts(output, rows, scores)


def _results_as_dicts(output: TopdownOutput, rows: np.ndarray, scores: np.ndarray) -> list[dict]:
    n = len(rows)
    kps = output.keypoints[rows].reshape(n, -1).tolist() if n else []
    centers, scales = output.centers[rows].tolist(), output.scales[rows].tolist()
    areas, bbox_ids = output.areas[rows].tolist(), output.bbox_ids[rows].tolist()
    image_ids = output.image_ids[rows].tolist()
    return [
        {"image_id": int(image_ids[i]), "category_id": PERSON_CATEGORY, "keypoints": kps[i],
         "score": float(scores[i]), "center": centers[i], "scale": scales[i], "area": float(areas[i]),
         "bbox_id": int(bbox_ids[i])}
        for i in range(n)
    ]  # fmt: skip


def to_coco_results(
    output: TopdownOutput, *, vis_thr: float | None, oks_nms_thr: float | None, sigmas: Sequence[float] | None
) -> list[dict]:
    """COCO keypoint results (PROTOCOLS.md §5): rescoring and per-image OKS-NMS, images in first-seen order.

    Per image: rows sorted by bbox_id and deduplicated, rescored (`rescore`), then OKS-NMS when oks_nms_thr is not
    None (results in keep order, i.e. by descending score). Each dict: image_id, category_id 1, keypoints flat
    [x, y, s] * K (Python floats of the float32 values), score, center, scale, area, bbox_id. (COCO's loadRes
    recomputes 'area' from the keypoints; it is written for provenance only.) vis_thr None: no rescoring, the score
    is the box score (Horse-10: MMPose 0.29's AnimalHorse10Dataset writes `boxes[i][5]`, 1 for GT boxes;
    docs/PARITY.md).

    Computed for all images at once (`select_results`); record for record the same as the per-image loop over
    dedupe, `rescore` and OKS-NMS (tests/harness/topdown/reference.py keeps that loop as the reference, compared on
    every test run).
    """
    rows, scores = select_results(output, vis_thr=vis_thr, oks_nms_thr=oks_nms_thr, sigmas=sigmas)
    return results_as_dicts(output, rows, scores)
