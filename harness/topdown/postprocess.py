"""Top-down post-processing before COCO-style scoring: rescoring, per-image dedupe, OKS-NMS (PROTOCOLS.md §3).

The numeric types follow the reference as the model-zoo-era NumPy (1.x) evaluated it: keypoints, areas and box
scores are float32; the keypoint score mean and the instance score are float64; OKS is computed per candidate in
float64 from float32 distances and stored as float32 before the comparison with the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.topdown.output import TopdownOutput

PERSON_CATEGORY = 1


def rescore(keypoint_scores: np.ndarray, bbox_scores: np.ndarray, *, vis_thr: float) -> np.ndarray:
    """[N] float64 instance scores: mean of the maxvals STRICTLY above vis_thr (0 if none) times the box score.

    PROTOCOLS.md §3 / §8.4. keypoint_scores: [N, K] float32; bbox_scores: [N]. Sums run left to right in float64,
    as the reference's Python loop does.
    """
    ks = np.asarray(keypoint_scores, dtype=np.float32)
    mask = ks > np.float32(vis_thr)
    total = np.cumsum(np.where(mask, ks, 0).astype(np.float64), axis=1)[:, -1] if ks.shape[1] else np.zeros(len(ks))
    count = mask.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return mean * np.asarray(bbox_scores, dtype=np.float32).astype(np.float64)


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


def to_coco_results(
    output: TopdownOutput, *, vis_thr: float, oks_nms_thr: float | None, sigmas: Sequence[float] | None
) -> list[dict]:
    """COCO keypoint results (PROTOCOLS.md §5): rescoring and per-image OKS-NMS, images in first-seen order.

    Per image: rows sorted by bbox_id and deduplicated, rescored (`rescore`), then OKS-NMS when oks_nms_thr is not
    None (results in keep order, i.e. by descending score). Each dict: image_id, category_id 1, keypoints flat
    [x, y, s] * K (Python floats of the float32 values), score, center, scale, area, bbox_id. (COCO's loadRes
    recomputes 'area' from the keypoints; it is written for provenance only.)
    """
    if oks_nms_thr is not None and sigmas is None:
        raise ValueError("OKS-NMS needs the dataset's sigmas")
    image_ids = np.asarray(output.image_ids)
    _, first = np.unique(image_ids, return_index=True)
    results: list[dict] = []
    for img in image_ids[np.sort(first)]:
        rows = np.flatnonzero(image_ids == img)
        rows = rows[sort_and_dedupe(output.bbox_ids[rows])]
        kp = output.keypoints[rows]
        scores = rescore(kp[..., 2], output.bbox_scores[rows], vis_thr=vis_thr)
        if oks_nms_thr is not None:
            keep = oks_nms(kp, scores, output.areas[rows], thr=oks_nms_thr, sigmas=sigmas)  # type: ignore[arg-type]
        else:
            keep = np.arange(len(rows))
        for j in keep:
            r = rows[j]
            results.append(
                {
                    "image_id": int(img),
                    "category_id": PERSON_CATEGORY,
                    "keypoints": output.keypoints[r].reshape(-1).tolist(),
                    "score": float(scores[j]),
                    "center": output.centers[r].tolist(),
                    "scale": output.scales[r].tolist(),
                    "area": float(output.areas[r]),
                    "bbox_id": int(output.bbox_ids[r]),
                }
            )
    return results
