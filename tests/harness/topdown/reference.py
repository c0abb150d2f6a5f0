"""Reference implementations of top-down post-processing, used only by the tests (PROTOCOLS.md §3).

harness/topdown/postprocess.py computes rescoring, per-image dedupe and greedy OKS-NMS for all images at once
(`select_results`); these are the plain per-image forms it replaced, kept here as the reference it must equal
record for record (torchmetrics' convention: slow references live in the tests). They are themselves pinned to a
straight per-pair loop in test_topdown_postprocess.py. Numeric types as in postprocess.py's docstring.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.topdown.output import TopdownOutput
from harness.topdown.postprocess import rescore


def oks_matrix(keypoints: np.ndarray, areas: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """[N, N] float32 OKS between predictions (PROTOCOLS.md §3): all K joints, padded-box areas, dataset sigmas.

    keypoints: [N, K, 3] (x, y, score) float32; areas: [N] float32. Symmetric; the diagonal is 1.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    area = np.asarray(areas, dtype=np.float32)
    var = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    dx = kp[None, :, :, 0] - kp[:, None, :, 0]  # float32 [N, N, K]
    dy = kp[None, :, :, 1] - kp[:, None, :, 1]
    d2 = dx**2 + dy**2
    # (a_i + a_j) in float32, then halved and eps added in float64 (np.spacing(1)), as the per-pair scalar code does.
    a = (area[:, None] + area[None, :]).astype(np.float64) / 2 + np.spacing(1)
    e = d2 / var / a[..., None] / 2
    k = kp.shape[1]
    return (np.sum(np.exp(-e), axis=-1) / k).astype(np.float32) if k else np.zeros(a.shape, np.float32)


def oks_nms(
    keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, *, thr: float, sigmas: Sequence[float]
) -> np.ndarray:
    """Indices kept by greedy OKS-NMS, in keep order (PROTOCOLS.md §3).

    Order = numpy `scores.argsort()[::-1]` (default, non-stable quicksort; ties follow numpy's ordering); the top
    remaining instance is kept and every other whose OKS with it is > thr is dropped (kept if OKS <= thr).
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    oks = oks_matrix(keypoints, areas, sigmas)
    order = np.asarray(scores, dtype=np.float64).argsort()[::-1]
    alive = np.ones(n, dtype=bool)
    keep = []
    thr32 = np.float32(thr)
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        alive &= oks[i] <= thr32
        alive[i] = False
    return np.asarray(keep, dtype=np.int64)


def sort_and_dedupe(bbox_ids: np.ndarray) -> np.ndarray:
    """Indices of one image's rows sorted by bbox_id (stable), keeping the first of each run of equal ids."""
    ids = np.asarray(bbox_ids)
    order = np.argsort(ids, kind="stable")
    if len(order) == 0:
        return order
    first = np.ones(len(order), dtype=bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    return order[first]


def per_image_to_coco_results(
    output: TopdownOutput, *, vis_thr: float, oks_nms_thr: float | None, sigmas: Sequence[float] | None
) -> list[dict]:
    """harness.topdown.postprocess.to_coco_results one image at a time: the loop the batched version replaced, and
    the reference it is compared with (same arguments, same dicts in the same order)."""
    image_ids = np.asarray(output.image_ids)
    _, first = np.unique(image_ids, return_index=True)
    results = []
    for img in image_ids[np.sort(first)]:
        rows = np.flatnonzero(image_ids == img)
        rows = rows[sort_and_dedupe(output.bbox_ids[rows])]
        kp = output.keypoints[rows]
        scores = rescore(kp[..., 2], output.bbox_scores[rows], vis_thr=vis_thr)
        if oks_nms_thr is not None:
            keep = oks_nms(kp, scores, output.areas[rows], thr=oks_nms_thr, sigmas=sigmas)
        else:
            keep = np.arange(len(rows))
        for j in keep:
            r = rows[j]
            results.append(
                {
                    "image_id": int(img),
                    "category_id": 1,
                    "keypoints": output.keypoints[r].reshape(-1).tolist(),
                    "score": float(scores[j]),
                    "center": output.centers[r].tolist(),
                    "scale": output.scales[r].tolist(),
                    "area": float(output.areas[r]),
                    "bbox_id": int(output.bbox_ids[r]),
                }
            )
    return results
