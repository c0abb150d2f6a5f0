"""Vectorised COCO keypoint evaluation, bit-identical to xtcocotools / pycocotools COCOeval (iouType keypoints).

The library stays the evaluator of record (STYLE.md principle 6): this is a faster path that is only used where it is
proven equal, by tests/harness/metrics/test_fast_coco.py on every test run (many seeded cases, both semantics, values
compared with ==) and, optionally, on the very input at hand (`self_check=True` also runs the library and raises
`FastPathMismatchError` on any difference). Inputs it does not model (non-integer or duplicate ids) go to the library.

The same float64 operations in the same order as the library, vectorised over images instead of Python loops
(PROTOCOLS.md §5; semantics read from xtcocotools 1.14 / pycocotools 2.0 cocoeval.py):

- Evaluated images: every image id of the annotations (sorted); GT and predictions per (category, image).
- GT ignore: crowd (truthiness of `iscrowd`) or no labelled joint (xtcocotools counts v > 0; pycocotools reads
  `num_keypoints`, filled with the v > 0 count where absent, as coco.py's adapter does). Multiple matches to a GT
  only when int(iscrowd) != 0. OKS / range area: `area`, or 0.53 * bbox w*h when not use_area (both libraries here,
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

import itertools
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import DataError
from harness.metrics._predictions import (
    MetricError,
    load_ground_truth,
    load_predictions,
    num_keypoints_of,
    validate_predictions,
)
from harness.metrics.coco import (
    LIBRARIES,
    STAT_NAMES,
    CocoMetrics,
    Library,
    _check_ground_truth,
    _keypoint_names,
    evaluate_coco_keypoints,
)

# cocoeval.Params.setKpParams: linspace, not arange (the library's own note), maxDets [20], three area ranges.
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = ((0**2, 1e5**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ("all", "medium", "large")
MAX_DETS = 20


class FastPathMismatchError(MetricError):
    """The fast evaluator disagreed with the library on this input (a bug here: report it with the input)."""


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
        """The GT reduced to joint k (coco.py's per-keypoint definition): ignore = crowd or v_k not > 0."""
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
    wh053 = bbox[:, 2] * bbox[:, 3] * 0.53  # PROTOCOLS.md §8.2 (w*h*0.53; h*w is the same product)
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
    """[P] OKS of the (prediction pd, GT pg) pairs, the library's float64 operations in its order."""
    var = (sigmas * 2) ** 2
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


def _group(gt: GroundTruthArrays, image: np.ndarray, category: np.ndarray, scores: np.ndarray) -> _Groups:
    n_img = len(gt.image_ids)
    order = np.lexsort((np.arange(len(scores)), -scores, image, category))
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
    _, d0, dn = np.unique(key, return_index=True, return_counts=True)
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
    sigmas: Sequence[float],
    library: str,
    area_ranges: Sequence[tuple[float, float]] = AREA_RANGES,
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval evaluate() + accumulate() on arrays: (precision [T, R, C, A, 1], recall [T, C, A, 1]).

    image, category: [N] indices into gt.image_ids / gt.category_ids; keypoints: [N, K, 3] float64; scores: [N].
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if library == "xtcocotools":  # it drops predictions without any keypoint score > 0
        keep = np.count_nonzero(keypoints[:, :, 2] > 0, axis=1) > 0
        image, category, keypoints, scores = image[keep], category[keep], keypoints[keep], scores[keep]
    groups = _group(gt, image, category, scores)
    dkp, dscore = keypoints[groups.det], scores[groups.det]
    x, y = dkp[:, :, 0], dkp[:, :, 1]
    darea = (np.max(x, axis=1) - np.min(x, axis=1)) * (np.max(y, axis=1) - np.min(y, axis=1))  # loadRes
    oks = _oks(gt, groups.pair_gt, dkp, groups.pair_det, np.asarray(sigmas, dtype=np.float64))
    t, r, c, a = len(IOU_THRS), len(REC_THRS), len(gt.category_ids), len(area_ranges)
    precision, recall = -np.ones((t, r, c, a, 1)), -np.ones((t, c, a, 1))
    dcat = groups.key // max(len(gt.image_ids), 1)
    for ai, (lo, hi) in enumerate(area_ranges):
        gig = gt.ignore | (gt.range_area < lo) | (gt.range_area > hi)
        match, match_ig = _match_all(gt, groups, oks, gig)
        gid = np.full(match.shape, -1 if library == "xtcocotools" else 0, dtype=np.int64)
        gid[match >= 0] = gt.ids[match[match >= 0]]
        matched = gid >= 0 if library == "xtcocotools" else gid != 0
        dt_ig = match_ig | (~matched & ((darea < lo) | (darea > hi))[None, :])
        for ci in range(c):
            d = dcat == ci
            npig = int(np.count_nonzero(~gig[gt.category == ci]))
            precision[:, :, ci, ai, 0], recall[:, ci, ai, 0] = _accumulate(matched[:, d], dt_ig[:, d], dscore[d], npig)
    return precision, recall


def summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """COCOeval.summarize() for keypoints (maxDets 20): the ten STAT_NAMES, means over entries > -1 (-1 if none)."""

    def mean(s: np.ndarray) -> float:
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    def stat(ap: bool, thr: float | None = None, area: str = "all") -> float:
        s = precision if ap else recall
        if thr is not None:
            s = s[np.where(thr == IOU_THRS)[0]]
        aind, mind = [AREA_LABELS.index(area)], [0]
        return mean(s[:, :, :, aind, mind] if ap else s[:, :, aind, mind])

    kinds = ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "medium"), (None, "large"))
    values = [stat(ap, thr, area) for ap in (True, False) for thr, area in kinds]
    return dict(zip(STAT_NAMES, values, strict=True))


def _mean_valid(a: np.ndarray) -> float:
    valid = a[a > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _is_real(t: type) -> bool:
    return issubclass(t, numbers.Real) and not issubclass(t, (bool, np.bool_))


def _prediction_arrays(preds: Sequence[Mapping[str, Any]], gta: GroundTruthArrays, k: int):
    """(image index, category index, keypoints [N, K, 3], scores) of clean predictions; _UnsupportedError otherwise
    (anything validate_predictions would reject or rewrite, and non-integer ids)."""
    if not all(issubclass(t, Mapping) for t in set(map(type, preds))):
        raise _UnsupportedError("not mappings")
    kps = [p.get("keypoints") for p in preds]
    if not all(type(v) in (list, tuple) for v in kps) or set(map(len, kps)) - {3 * k}:
        raise _UnsupportedError("keypoint containers")
    raw_scores = [p.get("score") for p in preds]
    if not all(_is_real(t) for t in set(map(type, itertools.chain(raw_scores, *kps)))):
        raise _UnsupportedError("non-numeric values")
    n = len(preds)
    keypoints = np.asarray(kps, dtype=np.float64).reshape(n, k, 3)
    scores = np.asarray(raw_scores, dtype=np.float64).reshape(n)
    if not (np.isfinite(keypoints).all() and np.isfinite(scores).all()):
        raise _UnsupportedError("non-finite values")
    single = gta.category_ids.tolist() if len(gta.category_ids) == 1 else [None]
    image = _int_ids([p.get("image_id") for p in preds], "image ids")
    category = _int_ids([p.get("category_id", single[0]) for p in preds], "category ids")
    ii = np.searchsorted(gta.image_ids, image)
    ci = np.searchsorted(gta.category_ids, category)
    if n and (ii.max() >= len(gta.image_ids) or ci.max() >= len(gta.category_ids)):
        raise _UnsupportedError("unknown ids")
    if not (np.array_equal(gta.image_ids[ii], image) and np.array_equal(gta.category_ids[ci], category)):
        raise _UnsupportedError("unknown ids")
    return ii, ci, keypoints, scores


def _library_result(predictions, gt, *, sigmas, use_area, library, keypoint_names, per_keypoint) -> CocoMetrics:
    return evaluate_coco_keypoints(
        predictions, gt, sigmas=sigmas, use_area=use_area, library=library, keypoint_names=keypoint_names,
        per_keypoint=per_keypoint,
    )  # fmt: skip


def _compare(ours: CocoMetrics, ref: CocoMetrics) -> list[str]:
    diffs = [f"{n}: fast {ours.metrics[n]!r} != library {ref.metrics[n]!r}"
             for n in STAT_NAMES if ours.metrics[n] != ref.metrics[n]]  # fmt: skip
    for joint, vals in ref.per_keypoint.items():
        diffs += [f"{joint} {m}: fast {ours.per_keypoint[joint][m]!r} != library {v!r}"
                  for m, v in vals.items() if ours.per_keypoint[joint][m] != v]  # fmt: skip
    for f in ("num_predictions", "num_dropped_zero_score", "num_images"):  # not `backend`: it differs by design
        if getattr(ours, f) != getattr(ref, f):
            diffs.append(f"{f}: fast {getattr(ours, f)} != library {getattr(ref, f)}")
    return diffs


def evaluate_coco_keypoints_fast(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    gt: Mapping[str, Any] | str | os.PathLike[str],
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: Library = "xtcocotools",
    keypoint_names: Sequence[str] | None = None,
    per_keypoint: bool = True,
    self_check: bool = False,
) -> CocoMetrics:
    """`coco.evaluate_coco_keypoints` (same arguments, same CocoMetrics, same errors), computed here.

    The numbers equal the library's bit for bit (module docstring). Inputs the fast path does not model (non-integer
    or duplicate ids) are scored by the library itself. self_check=True also runs the library and raises
    FastPathMismatchError naming every differing value (to prove a new kind of input; it costs the library's time).
    """
    if library not in LIBRARIES:
        raise MetricError(f"library must be one of {LIBRARIES}, got {library!r}")
    gt_data = load_ground_truth(gt)
    preds = load_predictions(predictions)
    k = num_keypoints_of(gt_data)
    if len(sigmas) != k:
        raise DataError(f"{len(sigmas)} OKS sigmas given for annotations with K = {k} keypoints; use that schema's.")
    _check_ground_truth(gt_data, num_keypoints=k, use_area=use_area)
    names = _keypoint_names(gt_data, keypoint_names, k)
    args = dict(sigmas=sigmas, use_area=use_area, library=library, keypoint_names=names, per_keypoint=per_keypoint)
    try:
        gta = ground_truth_arrays(gt_data, use_area=use_area, library=library, num_keypoints=k)
        try:
            arrays = _prediction_arrays(preds, gta, k)
        except _UnsupportedError:  # the reference validator raises the project's errors or normalises the input
            arrays = _prediction_arrays(validate_predictions(preds, gt_data, num_keypoints=k), gta, k)
    except _UnsupportedError:
        return _library_result(preds, gt_data, **args)
    ours = evaluate_keypoint_arrays(gta, *arrays, **args, num_images=len(gt_data["images"]))
    if self_check:
        diffs = _compare(ours, _library_result(preds, gt_data, **args))
        if diffs:
            raise FastPathMismatchError("the fast COCO evaluator differs from the library:\n  " + "\n  ".join(diffs))
    return ours


def evaluate_keypoint_arrays(
    gta: GroundTruthArrays,
    image: np.ndarray,
    category: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    *,
    sigmas: Sequence[float],
    use_area: bool,
    library: str,
    keypoint_names: Sequence[str],
    per_keypoint: bool,
    num_images: int,
) -> CocoMetrics:
    """CocoMetrics of clean prediction arrays (image/category: [N] indices into gta's ids; keypoints [N, K, 3])."""
    sig = [float(s) for s in sigmas]
    precision, recall = evaluate_arrays(
        gta, image=image, category=category, keypoints=keypoints, scores=scores, sigmas=sig, library=library
    )
    joints: dict[str, Mapping[str, float]] = {}
    for j, name in enumerate(keypoint_names if per_keypoint else ()):
        p, r = evaluate_arrays(
            gta.joint(j), image=image, category=category, keypoints=keypoints[:, j : j + 1], scores=scores,
            sigmas=sig[j : j + 1], library=library, area_ranges=AREA_RANGES[:1],
        )  # fmt: skip
        joints[name] = MappingProxyType({"AP": _mean_valid(p[:, :, :, 0, 0]), "AR": _mean_valid(r[:, :, 0, 0])})
    dropped = int(np.count_nonzero(~(keypoints[:, :, 2] > 0).any(axis=1))) if library == "xtcocotools" else 0
    return CocoMetrics(
        metrics=MappingProxyType(summarize(precision, recall)),
        per_keypoint=MappingProxyType(joints),
        library=library,
        use_area=use_area,
        num_predictions=len(scores),
        num_dropped_zero_score=dropped,
        num_images=num_images,
        sigmas=tuple(sig),
        backend="fast",
    )
