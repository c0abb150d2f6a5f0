"""The vectorised COCOeval core of harness/metrics/fast_coco.py: GT and prediction arrays in, precision / recall
out, bit-identical to xtcocotools / pycocotools (tests/harness/metrics/test_fast_coco*.py).

The same float64 operations in the same order as the library, vectorised over images instead of Python loops
(PROTOCOLS.md §5; semantics read from xtcocotools 1.14 / pycocotools 2.0 cocoeval.py):

- Evaluated images: every image id of the annotations (sorted); GT and predictions per (category, image).
- GT ignore: crowd (truthiness of `iscrowd`) or no labelled joint (xtcocotools counts v > 0; pycocotools reads
  `num_keypoints`, filled with the v > 0 count where absent, as coco_library.py's adapter does). Multiple matches to
  a GT only when int(iscrowd) != 0. OKS / range area: `area`, or 0.53 * bbox w*h when not use_area (both libraries here,
  the adapter writes that area for pycocotools).
- Predictions: xtcocotools drops those without a keypoint score > 0. Per image: stable (mergesort) sort by
  descending score, first 20 kept; prediction area = keypoint extent (w*h) as loadRes computes it.
- OKS = sum(exp(-e)) / n over the GT's labelled joints (all K with distances to the 2x GT box when it has none);
  numpy's pairwise summation is reproduced by summing contiguous [P, n] rows (checked equal to the 1-D sum).
- Greedy matching per threshold min(t, 1 - 1e-10), predictions by score, GT non-ignored first (stable): the last GT
  with the largest OKS >= threshold among the unmatched (or crowd) ones; ignored GTs only when no regular match.
  A match stores the GT id: xtcocotools counts it matched when id >= 0, pycocotools when id != 0.
- Accumulate: stable sort of all kept predictions of a category by descending score (image order breaks ties),
  cumulative TP/FP, precision envelope, 101 recall points by searchsorted (left); summarize means entries > -1.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.metrics.coco_common import STAT_NAMES, mean_valid

# cocoeval.Params.setKpParams: linspace, not arange (the library's own note), maxDets [20], three area ranges.
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = ((0**2, 1e5**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ("all", "medium", "large")
MAX_DETS = 20


class _UnsupportedError(Exception):
    """An input the fast path does not model; the caller falls back to the library."""


@dataclass(frozen=True, eq=False)
class GroundTruthArrays:
    """The evaluated GT as arrays (G annotations in (category, image, file) order).

    image_ids: [I] sorted evaluated image ids; category_ids: [C] sorted. image, category: [G] indices into those;
    ids: [G] annotation ids; keypoints: [G, K, 3] float64; bbox: [G, 4]; oks_area, range_area: [G] float64;
    ignore: [G] bool (crowd or no joint); crowd: [G] bool (int(iscrowd) != 0: may match several predictions);
    crowd_truth: [G] bool (bool(iscrowd), the ignore part).
    """

    image_ids: np.ndarray
    category_ids: np.ndarray
    image: np.ndarray
    category: np.ndarray
    ids: np.ndarray
    keypoints: np.ndarray
    bbox: np.ndarray
    oks_area: np.ndarray
    range_area: np.ndarray
    ignore: np.ndarray
    crowd: np.ndarray
    crowd_truth: np.ndarray

    def joint(self, k: int) -> GroundTruthArrays:
        """The GT reduced to joint k (coco_library.py's per-keypoint definition): ignore = crowd or v_k not > 0."""
        kp = self.keypoints[:, k : k + 1]
        return GroundTruthArrays(**{**self.__dict__, "keypoints": kp, "ignore": self.crowd_truth | (kp[:, 0, 2] <= 0)})


def _int_ids(values: Sequence[Any], what: str) -> np.ndarray:
    if not all(issubclass(t, numbers.Integral) and not issubclass(t, (bool, np.bool_)) for t in set(map(type, values))):
        raise _UnsupportedError(f"non-integer {what}")
    return np.asarray(values, dtype=np.int64).reshape(-1)


def ground_truth_arrays(
    gt: Mapping[str, Any], *, use_area: bool, library: str, num_keypoints: int
) -> GroundTruthArrays:
    """GT arrays with the given library's semantics (see the module docstring). Raises _UnsupportedError."""
    image_ids = np.unique(_int_ids([im["id"] for im in gt["images"]], "image ids"))
    category_ids = np.unique(_int_ids([c["id"] for c in gt["categories"]], "category ids"))
    anns = list(gt["annotations"])
    _int_ids([a["image_id"] for a in anns], "annotation image ids")  # 3.0 would still find image 3 in the library
    _int_ids([a["category_id"] for a in anns], "annotation category ids")
    ids = _int_ids([a["id"] for a in anns], "annotation ids")
    if len(np.unique(ids)) != len(ids):
        raise _UnsupportedError("duplicate annotation ids")
    img = np.searchsorted(image_ids, np.asarray([a["image_id"] for a in anns], dtype=np.int64).reshape(-1))
    cat = np.searchsorted(category_ids, np.asarray([a["category_id"] for a in anns], dtype=np.int64).reshape(-1))
    img_ok = image_ids[np.minimum(img, len(image_ids) - 1)] == [a["image_id"] for a in anns] if len(image_ids) else []
    cat_ok = category_ids[np.minimum(cat, len(category_ids) - 1)] == [a["category_id"] for a in anns]
    keep = np.flatnonzero(np.asarray(img_ok, dtype=bool) & np.asarray(cat_ok, dtype=bool))
    order = keep[np.lexsort((keep, img[keep], cat[keep]))]  # (category, image, file order), as the library visits
    anns = [anns[i] for i in order]
    g = len(anns)
    kp = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(g, num_keypoints, 3)
    bbox = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(g, 4)
    wh053 = bbox[:, 2] * bbox[:, 3] * 0.53  # PROTOCOLS.md §8 item 2 (w*h*0.53; h*w is the same product)
    labelled = np.count_nonzero(kp[:, :, 2] > 0, axis=1)
    if library == "xtcocotools":
        crowd_flag = [a.get("iscrowd", False) for a in anns]  # its loader fills False where absent (AIC)
        no_joint = labelled == 0
        area = np.asarray([a["area"] for a in anns], dtype=np.float64) if use_area else wh053
        # evaluateImg: `area` when present and use_area, else the 0.53 box area
        range_area = np.asarray([a.get("area", w) for a, w in zip(anns, wh053, strict=True)]) if use_area else wh053
    else:
        crowd_flag = [a.get("iscrowd", 0) for a in anns]
        counts = zip(anns, labelled.tolist(), strict=True)
        no_joint = np.asarray([a.get("num_keypoints", n) == 0 for a, n in counts], dtype=bool)
        area = np.asarray([a["area"] for a in anns], dtype=np.float64) if use_area else wh053
        range_area = area
    crowd_truth = np.asarray([bool(c) for c in crowd_flag], dtype=bool).reshape(g)
    out = GroundTruthArrays(
        image_ids=image_ids,
        category_ids=category_ids,
        image=img[order],
        category=cat[order],
        ids=ids[order],
        keypoints=kp,
        bbox=bbox,
        oks_area=area.reshape(g),
        range_area=range_area.reshape(g),
        ignore=crowd_truth | no_joint.reshape(g),
        crowd=np.asarray([int(c) != 0 for c in crowd_flag], dtype=bool).reshape(g),
        crowd_truth=crowd_truth,
    )
    return out


def _oks(gt: GroundTruthArrays, pg: np.ndarray, dkp: np.ndarray, pd: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """[P] OKS of the (prediction pd, GT pg) pairs, the library's float64 operations in its order.

    sigmas: [K], or [C, K] one row per category (the per-joint pass: `joints_as_categories`)."""
    var = (sigmas * 2) ** 2
    if var.ndim == 2:  # the same (sigma * 2) ** 2 per element, looked up by the pair's category
        var = var[gt.category[pg]]
    labelled = np.take(gt.keypoints[:, :, 2] > 0, pg, axis=0)
    nlab = np.count_nonzero(labelled, axis=1)
    # per-channel contiguous gathers (the same float64 values, less memory traffic than gathering [P, K, 3])
    xd, yd = np.take(np.ascontiguousarray(dkp[:, :, 0]), pd, axis=0), np.take(np.ascontiguousarray(dkp[:, :, 1]), pd, 0)
    dx = xd - np.take(np.ascontiguousarray(gt.keypoints[:, :, 0]), pg, axis=0)
    dy = yd - np.take(np.ascontiguousarray(gt.keypoints[:, :, 1]), pg, axis=0)
    bare = nlab == 0  # no labelled joint: distance to the GT box grown by its size on every side
    if bare.any():
        x, y, w, h = (gt.bbox[pg[bare], i][:, None] for i in range(4))
        xb, yb = xd[bare], yd[bare]
        dx[bare] = np.maximum(0, (x - w) - xb) + np.maximum(0, xb - (x + w * 2))
        dy[bare] = np.maximum(0, (y - h) - yb) + np.maximum(0, yb - (y + h * 2))
        labelled[bare] = True
        nlab[bare] = labelled.shape[1]
    e = (dx**2 + dy**2) / var / (gt.oks_area[pg] + np.spacing(1))[:, None] / 2
    ex = np.exp(-e)
    oks = np.empty(len(pg), dtype=np.float64)
    for n in np.unique(nlab):
        rows = np.flatnonzero(nlab == n)
        # contiguous [rows, n] sums use numpy's pairwise summation exactly as np.sum over one 1-D row does
        oks[rows] = np.sum(np.ascontiguousarray(ex[rows][labelled[rows]].reshape(len(rows), n)), axis=-1) / n
    return oks


@dataclass(frozen=True, eq=False)
class _Groups:
    """Kept predictions sorted by (category, image, -score, input order), pairs with the GT of their image, and the
    (category, image) groups holding both: pairs are det-major, GT in `ground_truth_arrays` order inside a group."""

    det: np.ndarray  # [D'] prediction indices in that order (at most MAX_DETS per group)
    key: np.ndarray  # [D'] category index * I + image index
    pair_det: np.ndarray  # [P] position in `det`
    pair_gt: np.ndarray  # [P] GT index
    g0: np.ndarray  # [B] first GT of each group with both
    gn: np.ndarray  # [B] its GT count
    d0: np.ndarray  # [B] first position in `det`
    dn: np.ndarray  # [B] its prediction count
    p0: np.ndarray  # [B] first pair


def _group(
    gt: GroundTruthArrays, image: np.ndarray, category: np.ndarray, scores: np.ndarray, *, presorted: bool = False
) -> _Groups:
    n_img = len(gt.image_ids)
    # presorted: the inputs already come in this order (joints_as_categories), which the stable sort would keep
    order = np.arange(len(scores)) if presorted else np.lexsort((np.arange(len(scores)), -scores, image, category))
    key = category[order] * n_img + image[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    start = np.flatnonzero(first)
    rank = np.arange(len(key)) - np.repeat(start, np.diff(np.r_[start, len(key)]))
    top = rank < MAX_DETS
    order, key = order[top], key[top]
    gkey = gt.category * n_img + gt.image  # sorted by construction
    lo, hi = np.searchsorted(gkey, key, "left"), np.searchsorted(gkey, key, "right")
    cnt = hi - lo
    pstart = np.r_[0, np.cumsum(cnt)][:-1]
    pair_det = np.repeat(np.arange(len(key)), cnt)
    pair_gt = np.repeat(lo - pstart, cnt) + np.arange(int(cnt.sum()))
    # groups of the kept predictions: `key` is sorted, so np.unique's (index, count) are the runs' starts, lengths
    d0 = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    dn = np.diff(np.r_[d0, len(key)])
    both = cnt[d0] > 0
    d0, dn = d0[both], dn[both]
    return _Groups(order, key, pair_det, pair_gt, lo[d0], cnt[d0], d0, dn, pstart[d0])


def _match(ious: np.ndarray, gidx: np.ndarray, ig: np.ndarray, crowd: np.ndarray, nd: np.ndarray):
    """Greedy matching of B padded groups at every threshold. ious [B, Dp, Gp] (GT columns non-ignored first,
    padding -1), gidx [B, Gp] GT index or -1, ig/crowd [B, Gp], nd [B] predictions per group.
    Returns (matched GT index [B, T, Dp] or -1, ignore flag of that GT [B, T, Dp])."""
    b, dp, gp = ious.shape
    t = len(IOU_THRS)
    thr = np.minimum(IOU_THRS, 1 - 1e-10)[None, :, None]
    taken = np.zeros((b, t, gp), dtype=bool)
    crowd3, ig3, real3 = crowd[:, None, :], ig[:, None, :], (gidx >= 0)[:, None, :]
    out = np.full((b, t, dp), -1, dtype=np.int64)
    out_ig = np.zeros((b, t, dp), dtype=bool)
    bi, ti = np.arange(b)[:, None], np.arange(t)[None, :]
    for r in range(dp):
        v = ious[:, r, None, :]
        cand = (v >= thr) & (crowd3 | ~taken) & real3
        found = []
        for part in (cand & ~ig3, cand & ig3):
            # the library keeps the LAST GT whose OKS is >= the best so far: the last maximum
            m = gp - 1 - np.argmax(np.where(part, v, -np.inf)[..., ::-1], axis=-1)
            found.append((m, part.any(axis=-1)))
        (m_reg, has_reg), (m_ig, has_ig) = found
        m = np.where(has_reg, m_reg, m_ig)
        has = (has_reg | has_ig) & (r < nd)[:, None]
        taken[bi, ti, m] |= has
        out[:, :, r] = np.where(has, gidx[bi, m], -1)
        out_ig[:, :, r] = has & ig[bi, m]
    return out, out_ig


def _match_all(gt: GroundTruthArrays, groups: _Groups, oks: np.ndarray, gig: np.ndarray):
    """(matched GT index [T, D'] or -1, its ignore flag [T, D']) for one area range (GT ignore flags `gig`)."""
    t, nd = len(IOU_THRS), len(groups.key)
    match = np.full((t, nd), -1, dtype=np.int64)
    match_ig = np.zeros((t, nd), dtype=bool)
    bucket = np.ceil(np.log2(np.maximum(groups.gn, 1))).astype(np.int64)  # pad within GT counts of one power of 2
    for bk in np.unique(bucket):
        sel = np.flatnonzero(bucket == bk)
        gn, dn = groups.gn[sel][:, None], groups.dn[sel]
        gp, dp = int(gn.max()), int(dn.max())
        jj = np.arange(gp)[None, :]
        real = jj < gn
        perm = np.argsort(np.where(real, gig[groups.g0[sel][:, None] + np.minimum(jj, gn - 1)], 2), axis=1,
                          kind="stable")  # fmt: skip
        real = np.take_along_axis(real, perm, axis=1)
        gidx = np.where(real, groups.g0[sel][:, None] + perm, -1)
        rr = np.arange(dp)[None, :, None]
        valid = (rr < dn[:, None, None]) & real[:, None, :]
        rows = groups.p0[sel][:, None, None] + rr * gn[:, :, None] + perm[:, None, :]
        ious = np.where(valid, oks[np.where(valid, rows, 0)], -1.0)
        safe = np.maximum(gidx, 0)
        ig = np.where(real, gig[safe], True)
        m, mig = _match(ious, gidx, ig, real & gt.crowd[safe], dn)
        ok = np.arange(dp)[None, :] < dn[:, None]
        pos = (groups.d0[sel][:, None] + np.arange(dp)[None, :])[ok]
        match[:, pos] = m.transpose(1, 0, 2)[:, ok]
        match_ig[:, pos] = mig.transpose(1, 0, 2)[:, ok]
    return match, match_ig


def _accumulate(matched, dt_ig, scores, npig):
    """(precision [T, R], recall [T]) from one category's kept predictions in image order (the library's
    concatenation), stably re-sorted by descending score."""
    t, r = len(IOU_THRS), len(REC_THRS)
    if npig == 0:
        return -np.ones((t, r)), -np.ones(t)
    nd = len(scores)
    inds = np.argsort(-scores, kind="mergesort")
    matched, dt_ig = matched[:, inds], dt_ig[:, inds]
    tp = np.cumsum(matched & ~dt_ig, axis=1).astype(dtype=np.float64)
    fp = np.cumsum(~matched & ~dt_ig, axis=1).astype(dtype=np.float64)
    rc = tp / npig
    pr = tp / (fp + tp + np.spacing(1))
    recall = rc[:, -1] if nd else np.zeros(t)
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # the precision envelope (a running max is exact)
    precision = np.zeros((t, r))
    for ti in range(t):
        q = np.searchsorted(rc[ti], REC_THRS, side="left")
        ok = q < nd
        precision[ti, ok] = pr[ti, q[ok]]
    return precision, recall


def evaluate_arrays(
    gt: GroundTruthArrays,
    *,
    image: np.ndarray,
    category: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    sigmas: Sequence[float] | np.ndarray,
    library: str,
    area_ranges: Sequence[tuple[float, float]] = AREA_RANGES,
    presorted: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval evaluate() + accumulate() on arrays: (precision [T, R, C, A, 1], recall [T, C, A, 1]).

    image, category: [N] indices into gt.image_ids / gt.category_ids; keypoints: [N, K, 3] float64; scores: [N].
    presorted: the predictions are already sorted by (category, image, descending score), ties in input order.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if library == "xtcocotools":  # it drops predictions without any keypoint score > 0
        keep = np.count_nonzero(keypoints[:, :, 2] > 0, axis=1) > 0
        image, category, keypoints, scores = image[keep], category[keep], keypoints[keep], scores[keep]
    groups = _group(gt, image, category, scores, presorted=presorted)
    dkp, dscore = keypoints[groups.det], scores[groups.det]
    x, y = dkp[:, :, 0], dkp[:, :, 1]
    darea = (np.max(x, axis=1) - np.min(x, axis=1)) * (np.max(y, axis=1) - np.min(y, axis=1))  # loadRes
    oks = _oks(gt, groups.pair_gt, dkp, groups.pair_det, np.asarray(sigmas, dtype=np.float64))
    t, r, c, a = len(IOU_THRS), len(REC_THRS), len(gt.category_ids), len(area_ranges)
    precision, recall = -np.ones((t, r, c, a, 1)), -np.ones((t, c, a, 1))
    # kept predictions and GT are sorted by category: each category is one slice (a view, no gathered copy)
    dbound = np.searchsorted(groups.key // max(len(gt.image_ids), 1), np.arange(c + 1))
    gbound = np.searchsorted(gt.category, np.arange(c + 1))
    for ai, (lo, hi) in enumerate(area_ranges):
        gig = gt.ignore | (gt.range_area < lo) | (gt.range_area > hi)
        match, match_ig = _match_all(gt, groups, oks, gig)
        gid = np.full(match.shape, -1 if library == "xtcocotools" else 0, dtype=np.int64)
        gid[match >= 0] = gt.ids[match[match >= 0]]
        matched = gid >= 0 if library == "xtcocotools" else gid != 0
        dt_ig = match_ig | (~matched & ((darea < lo) | (darea > hi))[None, :])
        for ci in range(c):
            d = slice(dbound[ci], dbound[ci + 1])
            npig = int(np.count_nonzero(~gig[gbound[ci] : gbound[ci + 1]]))
            precision[:, :, ci, ai, 0], recall[:, ci, ai, 0] = _accumulate(matched[:, d], dt_ig[:, d], dscore[d], npig)
    return precision, recall


def joints_as_categories(
    gt: GroundTruthArrays,
    image: np.ndarray,
    category: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    sigmas: Sequence[float],
) -> tuple[GroundTruthArrays, dict[str, np.ndarray]]:
    """The per-joint breakdown as ONE evaluation: joint j of category c becomes category j * C + c, with joint j
    alone in its GT and predictions and sigma_j as its OKS sigma (coco_library.py's per-keypoint definition: GT ignored
    when crowd or v_j not > 0). Returns the GT and the `evaluate_arrays` keywords; precision[:, :, j*C:(j+1)*C]
    is then joint j's.

    Nothing of one joint meets another's: pairs, matching and accumulation stay inside a category, in the same
    order as a separate evaluation of that joint (categories, then images, then input order), with the same float64
    operations (an OKS over one joint is its single exp term, summed alone and divided by 1), so each joint's
    numbers are bit for bit those of its own evaluation, which equals the library's (test_fast_coco.py)."""
    k, c = gt.keypoints.shape[1], len(gt.category_ids)
    kp = np.ascontiguousarray(gt.keypoints.transpose(1, 0, 2)).reshape(-1, 1, 3)  # [K * G, 1, 3], joint-major
    crowd_truth = np.tile(gt.crowd_truth, k)
    expanded = GroundTruthArrays(
        image_ids=gt.image_ids,
        category_ids=np.arange(k * c, dtype=np.int64),
        image=np.tile(gt.image, k),
        category=(np.arange(k)[:, None] * c + gt.category[None, :]).reshape(-1),
        ids=np.tile(gt.ids, k),
        keypoints=kp,
        bbox=np.tile(gt.bbox, (k, 1)),
        oks_area=np.tile(gt.oks_area, k),
        range_area=np.tile(gt.range_area, k),
        ignore=crowd_truth | (kp[:, 0, 2] <= 0),
        crowd=np.tile(gt.crowd, k),
        crowd_truth=crowd_truth,
    )
    n = len(scores)
    sig = np.repeat(np.asarray(sigmas, dtype=np.float64), c).reshape(k * c, 1)  # row j * C + c: sigma_j
    # Sorted once for all joints (the K x larger sort cost more than the rest of the pass): the order of joint j's
    # predictions is the same (category, image, -score, input order) sort, so joint-major copies of it are sorted.
    base = np.lexsort((np.arange(n), -np.asarray(scores), image, category))
    kp = np.ascontiguousarray(np.asarray(keypoints)[base].transpose(1, 0, 2)).reshape(k * n, 1, 3)
    return expanded, {
        "image": np.tile(image[base], k),
        "category": (np.arange(k)[:, None] * c + np.asarray(category)[base][None, :]).reshape(-1),
        "keypoints": kp,
        "scores": np.tile(np.asarray(scores)[base], k),
        "sigmas": sig,
        "area_ranges": AREA_RANGES[:1],  # the per-joint breakdown reports the `all` range only
        "presorted": True,
    }


def summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """COCOeval.summarize() for keypoints (maxDets 20): the ten STAT_NAMES, means over entries > -1 (-1 if none)."""

    def stat(ap: bool, thr: float | None = None, area: str = "all") -> float:
        s = precision if ap else recall
        if thr is not None:
            s = s[np.where(thr == IOU_THRS)[0]]
        aind, mind = [AREA_LABELS.index(area)], [0]
        return mean_valid(s[:, :, :, aind, mind] if ap else s[:, :, aind, mind])

    kinds = ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "medium"), (None, "large"))
    values = [stat(ap, thr, area) for ap in (True, False) for thr, area in kinds]
    return dict(zip(STAT_NAMES, values, strict=True))
