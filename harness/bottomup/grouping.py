"""Associative-embedding grouping of aggregated maps into persons (PROTOCOLS.md §4 "HeatmapParser", steps 1-6).

Inputs: heatmaps [1, K, H, W] and tags [1, K, H, W, L] at the base (input) resolution, float32. Outputs: persons
[P, K, 3 + L] float32 rows (x, y, val, tag_1..tag_L; zeros for missing joints) in canvas pixels, and scores [P].
Batch size is 1 (PROTOCOLS.md §2.3). The dtypes follow the reference, because ties and thresholds are decided on
exact values: candidate rows are float64 (integer locations joined with float32 values), group tags are float32
means, distances and costs float64, stored person rows float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from harness.bottomup.assignment import assign
from harness.bottomup.finite import all_finite
from harness.bottomup.refine_search import first_argmax_among_top
from harness.bottomup.udp import dark_adjust
from harness.errors import BottomUpConfigError, ModelOutputError
from zoo.registry.schema import BottomUpProtocol, KeypointSchema

#: PROTOCOLS.md §4 step 3: more candidates than groups -> pad the cost matrix with columns of this value.
PAD_COST = 1e10


@dataclass(frozen=True)
class Candidates:
    """Top-k peaks per joint type: val [K, k] float32, xy [K, k, 2] int64 (x, y), tags [K, k, L] float32."""

    val: np.ndarray
    xy: np.ndarray
    tags: np.ndarray


def _window_max(x: torch.Tensor, *, dim: int, radius: int) -> torch.Tensor:
    """Max over x[i - radius .. i + radius] along dim, the window clipped at the borders (= padding with -inf).

    Shifted elementwise maxima of slices: no padded copy, and each pass streams contiguous memory, which is several
    times faster on the CPU than max_pool2d's windows."""
    out = x.clone()
    n = x.shape[dim]
    for d in range(1, min(radius, n - 1) + 1):
        right = out.narrow(dim, d, n - d)
        torch.maximum(right, x.narrow(dim, 0, n - d), out=right)
        left = out.narrow(dim, 0, n - d)
        torch.maximum(left, x.narrow(dim, d, n - d), out=left)
    return out


def heatmap_nms(heatmaps: torch.Tensor, *, kernel: int = 5) -> torch.Tensor:
    """Keep values equal to their kernel x kernel max (stride 1, padding (kernel-1)/2), zero the rest (§4 step 1).

    The window max is taken as a row max then a column max, each by shifted maxima (`_window_max`): a maximum
    involves no rounding, its order does not matter, and -inf padding never wins, so the pooled map equals the
    k x k max_pool2d's (up to the sign of zeros, which torch.eq ignores) for finite maps (parse rejects others);
    tests/harness/perf/test_bottomup_fast_paths.py compares them.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise BottomUpConfigError(f"nms_kernel must be a positive odd number, got {kernel}")
    pad = (kernel - 1) // 2
    pooled = _window_max(_window_max(heatmaps, dim=3, radius=pad), dim=2, radius=pad)
    return heatmaps * torch.eq(pooled, heatmaps).to(heatmaps.dtype)


def top_candidates(heatmaps: torch.Tensor, tags: torch.Tensor, *, k: int, nms_kernel: int = 5) -> Candidates:
    """heatmaps [1, K, H, W], tags [1, K, H, W, L] -> the k highest NMS peaks of each joint (torch.topk, §4 step 2)."""
    _, n_joints, h, w = heatmaps.shape
    flat = heatmap_nms(heatmaps, kernel=nms_kernel).reshape(1, n_joints, h * w)
    val, ind = flat.topk(min(k, h * w), dim=2)
    tag_flat = tags.reshape(1, n_joints, h * w, tags.shape[-1])
    tag_k = torch.gather(tag_flat, 2, ind.unsqueeze(-1).expand(-1, -1, -1, tags.shape[-1]))
    xy = torch.stack((ind % w, ind // w), dim=3)
    return Candidates(val=val[0].cpu().numpy(), xy=xy[0].cpu().numpy(), tags=tag_k[0].cpu().numpy())


class _Groups:
    """Persons keyed like the reference's dict: key = first tag value of the joint that started the person.

    A new person whose key already exists writes into that person's row and restarts its tag list (the dict's
    setdefault/assignment semantics); the person keeps its place in insertion order.
    """

    def __init__(self, num_joints: int, tag_len: int) -> None:
        self.width = 3 + tag_len
        self.num_joints = num_joints
        self.rows: list[np.ndarray] = []
        self.index: dict[float, int] = {}
        self.tag_sum: list[np.ndarray] = []
        self.tag_count: list[int] = []

    def start(self, joint: int, row: np.ndarray, tag: np.ndarray) -> None:
        key = float(tag[0])
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.rows)
            self.rows.append(np.zeros((self.num_joints, self.width), dtype=np.float32))
            self.tag_sum.append(tag)  # replaced just below
            self.tag_count.append(0)
        self.rows[i][joint] = row
        self.tag_sum[i], self.tag_count[i] = tag.copy(), 1

    def add(self, i: int, joint: int, row: np.ndarray, tag: np.ndarray) -> None:
        self.rows[i][joint] = row
        self.tag_sum[i] = self.tag_sum[i] + tag  # float32, in insertion order: np.mean(list, axis=0)'s sum
        self.tag_count[i] += 1

    def mean_tags(self, targets: Sequence[int]) -> np.ndarray:
        """[G, L] float32 mean tag of each target group (sum / count in float32)."""
        return np.stack([self.tag_sum[i] / np.float32(self.tag_count[i]) for i in targets])

    def result(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, self.num_joints, self.width), dtype=np.float32)
        return np.stack(self.rows)


def group_candidates(
    cands: Candidates,
    *,
    joint_order: Sequence[int],
    detection_threshold: float,
    tag_threshold: float,
    max_groups: int | None = None,
) -> np.ndarray:
    """Candidates -> persons [P, K, 3 + L] float32 (PROTOCOLS.md §4 step 3, model-zoo and HEAD variants).

    Joint types in joint_order; candidates with val > detection_threshold. The first type with candidates starts
    one person per candidate; later types are matched to the first max_groups existing persons (all when None) by
    cost round(dist) * 100 - val (dist: L2 over L between the candidate tag and the person's mean tag), padded with
    PAD_COST columns when candidates outnumber targets, then Hungarian; a real pair with UNROUNDED dist <
    tag_threshold joins the person, any other candidate starts a new one.
    """
    n_joints, _, tag_len = cands.tags.shape
    if sorted(joint_order) != list(range(n_joints)):
        raise BottomUpConfigError(f"joint_order {list(joint_order)} is not a permutation of 0..{n_joints - 1}")
    groups = _Groups(n_joints, tag_len)
    for j in joint_order:
        keep = cands.val[j] > detection_threshold
        if not keep.any():
            continue
        tags = cands.tags[j][keep]
        rows = np.concatenate([cands.xy[j][keep], cands.val[j][keep, None], tags], axis=1).astype(np.float64)
        if not groups.rows:
            for r in range(len(rows)):
                groups.start(j, rows[r], tags[r])
            continue
        targets = list(range(len(groups.rows)))[:max_groups]
        means = groups.mean_tags(targets).astype(np.float64)
        dist = np.sqrt(((rows[:, None, 3:] - means[None]) ** 2).sum(axis=2))
        cost = np.round(dist) * 100 - rows[:, 2:3]  # np.round: half to even, like the reference
        n_cand, n_tgt = cost.shape
        if n_cand > n_tgt:
            cost = np.concatenate([cost, np.full((n_cand, n_cand - n_tgt), PAD_COST)], axis=1)
        for r, col in assign(cost, num_real_cols=n_tgt):
            if col < n_tgt and dist[r, col] < tag_threshold:
                groups.add(targets[col], j, rows[r], tags[r])
            else:
                groups.start(j, rows[r], tags[r])
    return groups.result()


def _at(hm, joints: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """hm[joints, ys, xs] as numpy, for a numpy array or a torch tensor on any device."""
    if isinstance(hm, torch.Tensor):
        j, y, x = (torch.as_tensor(a, device=hm.device) for a in (joints, ys, xs))
        return hm[j, y, x].cpu().numpy()
    return hm[joints, ys, xs]


def _quarter_steps(hm, joints: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """+0.25 towards the higher neighbour, -0.25 on ties (PROTOCOLS.md §4 steps 4/6, §8 item 5); borders clamped.

    hm: [K, H, W] numpy array or torch tensor; joints, xs, ys: int arrays of equal length. Returns float32 (dx, dy).
    """
    _, h, w = hm.shape
    right = _at(hm, joints, ys, np.minimum(w - 1, xs + 1))
    left = _at(hm, joints, ys, np.maximum(0, xs - 1))
    down = _at(hm, joints, np.minimum(h - 1, ys + 1), xs)
    up = _at(hm, joints, np.maximum(0, ys - 1), xs)
    q = np.float32(0.25)
    return np.where(right > left, q, -q), np.where(down > up, q, -q)


def adjust_peaks(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Quarter-pixel adjust plus the +0.5 pixel offset of every joint with val > 0 (PROTOCOLS.md §4 step 4).

    persons [P, K, 3 + L] float32 (not modified); heatmaps [K, H, W] float32, the aggregated (non-NMS) maps.
    """
    out = persons.copy()
    p, j = np.nonzero(out[:, :, 2] > 0)
    x, y = out[p, j, 0], out[p, j, 1]
    dx, dy = _quarter_steps(heatmaps, j, x.astype(np.int64), y.astype(np.int64))
    out[p, j, 0] = (x + dx) + np.float32(0.5)
    out[p, j, 1] = (y + dy) + np.float32(0.5)
    return out


def person_scores(persons: np.ndarray) -> np.ndarray:
    """[P] float32 mean of val over ALL K joints, missing = 0 (PROTOCOLS.md §4 step 5, §8 item 9)."""
    return np.array([person[:, 2].mean() for person in persons], dtype=np.float32)


#: Maps per refine chunk: bounds the [chunk, H, W] float32 temporaries (~100 MB at 512 x 768).
_REFINE_CHUNK = 64


def _prev_tags(persons: np.ndarray, tags: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(prev_tag [P, L] float32, todo [P, K] bool): each person's mean tag at its joints with val > 0 (np.mean over
    the person's [n, L] float32 array of sampled tags, as the reference), and the missing joints of persons that have
    at least one joint."""
    _, tag_len, h, w = tags.shape
    p_idx, j_idx = np.nonzero(persons[:, :, 2] > 0)
    xs = np.clip(persons[p_idx, j_idx, 0].astype(np.int64), 0, w - 1)
    ys = np.clip(persons[p_idx, j_idx, 1].astype(np.int64), 0, h - 1)
    sampled = np.stack([_at(tags[:, t], j_idx, ys, xs) for t in range(tag_len)], axis=1)  # [N, L]
    prev = np.zeros((len(persons), tag_len), dtype=np.float32)
    has = np.zeros(len(persons), dtype=bool)
    bounds = np.searchsorted(p_idx, np.arange(len(persons) + 1))  # np.nonzero is row-major: rows grouped by person
    for i in np.flatnonzero(bounds[1:] > bounds[:-1]):
        prev[i] = np.mean(sampled[bounds[i] : bounds[i + 1]], axis=0)
        has[i] = True
    return prev, (persons[:, :, 2] == 0) & has[:, None]


def refine_persons(
    persons: np.ndarray, heatmaps: torch.Tensor, tags: torch.Tensor, *, half_pixel: bool = True
) -> np.ndarray:
    """Fill missing joints from the full maps, every person at once (PROTOCOLS.md §4 step 6); a new [P, K, 3 + L].

    persons [P, K, 3 + L] float32 (after adjust); heatmaps [K, H, W] and tags [K, L, H, W] (channel-first) float32
    tensors on any device. Per person, prev_tag = mean tag sampled at (int(x), int(y)), clipped, of the joints with
    val > 0; for each missing joint, the argmax (first in row-major order) of heatmap - round(L2(tag - prev_tag));
    val = heatmap there; position = pixel + 0.5 (without `half_pixel`, UDP: the pixel), then the quarter step. A
    missing joint is replaced only if its new val > 0. The float32 operations are the reference's (squares summed in
    tag order, IEEE sqrt, half-to-even round, first maximum), so results match its numpy code exactly on CPU and
    GPU alike.

    Per joint type j, the persons missing j are first searched among the map's highest pixels
    (`refine_search.first_argmax_among_top`, exact); those it cannot settle are scored together against the shared
    maps (broadcast instead of a per-person gather), in chunks, with the float32 operations above in the same order
    (tag - prev_tag, squared, summed in tag order, sqrt, half-to-even round, heatmap minus that), done in place; the
    first maximum per map is the argmax of each row. tests/harness/perf/test_bottomup_fast_paths.py and
    test_bottomup_refine_search.py compare it with the per-person reference (tests/harness/bottomup/reference.py)
    on random and sample inputs.
    """
    k, tag_len, _, w = tags.shape
    out = persons.copy()
    if not len(out):
        return out
    prev, todo = _prev_tags(out, tags)
    dev = tags.device
    prev_t = torch.from_numpy(prev).to(dev)
    pairs_p, pairs_j, best = [], [], []
    for j in range(k):
        who = np.flatnonzero(todo[:, j])
        if not len(who):
            continue
        # Most persons are settled from the map's highest pixels (refine_search.py); the rest search the full map.
        flat, settled = first_argmax_among_top(
            heatmaps[j].reshape(-1), tags[j].reshape(tag_len, -1), prev_t[torch.as_tensor(who, device=dev)]
        )
        settled = settled.cpu().numpy()
        if settled.any():
            best.append(flat.cpu().numpy()[settled])
            pairs_p.append(who[settled])
            pairs_j.append(np.full(int(settled.sum()), j))
        who = who[~settled]
        for c in range(0, len(who), _REFINE_CHUNK):
            chunk = who[c : c + _REFINE_CHUNK]
            pt = prev_t[torch.as_tensor(chunk, device=dev)]  # [c, L]
            sq = tags[j, 0].unsqueeze(0) - pt[:, 0, None, None]  # [c, H, W]
            sq.mul_(sq)
            for t in range(1, tag_len):
                d = tags[j, t].unsqueeze(0) - pt[:, t, None, None]
                sq.add_(d.mul_(d))
            score = torch.sub(heatmaps[j].unsqueeze(0), sq.sqrt_().round_(), out=sq)
            best.append(score.reshape(len(chunk), -1).argmax(dim=1).cpu().numpy())
            pairs_p.append(chunk)
            pairs_j.append(np.full(len(chunk), j))
    if not best:
        return out
    p_idx, j_idx, flat = np.concatenate(pairs_p), np.concatenate(pairs_j), np.concatenate(best)
    y, x = np.divmod(flat, w)
    val = _at(heatmaps, j_idx, y, x)
    dx, dy = _quarter_steps(heatmaps, j_idx, x, y)
    take = val > 0
    p_idx, j_idx = p_idx[take], j_idx[take]
    half = 0.5 if half_pixel else 0.0
    out[p_idx, j_idx, 0] = (x[take] + half + dx[take]).astype(np.float32)
    out[p_idx, j_idx, 1] = (y[take] + half + dy[take]).astype(np.float32)
    out[p_idx, j_idx, 2] = val[take]
    return out


def parse(
    heatmaps: torch.Tensor, tags: torch.Tensor, *, protocol: BottomUpProtocol, schema: KeypointSchema
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregated maps -> (persons [P, K, 3 + L] float32 in canvas pixels, scores [P] float32) (§4 steps 1-6).

    heatmaps [1, K, H, W], tags [1, K, H, W, L], float32 (any device). The row's test_cfg (PROTOCOLS.md §2.2) and
    its era's grouping truncation (§4 step 3, §8 item 10) come from `protocol`, the joint visiting order from the
    schema. Scores are taken after adjust and before refine.
    """
    if heatmaps.ndim != 4 or heatmaps.shape[0] != 1 or tags.ndim != 5 or tags.shape[:4] != heatmaps.shape:
        raise ModelOutputError(
            f"expected heatmaps [1, K, H, W] and tags [1, K, H, W, L], got {tuple(heatmaps.shape)} and "
            f"{tuple(tags.shape)}; bottom-up runs one image at a time"
        )
    # Contiguous heatmaps (a no-op unless a channels_last model's maps come in): per-joint maps are then read without
    # a copy per use; every step below compares, selects or computes per element, so the layout changes no value.
    heatmaps, tags = heatmaps.float().contiguous(), tags.float()
    if not (all_finite(heatmaps) and all_finite(tags)):
        raise ModelOutputError("aggregated heatmaps or tags contain NaN or infinity; check the model and its weights")
    cands = top_candidates(heatmaps, tags, k=protocol.max_num_people, nms_kernel=protocol.nms_kernel)
    persons = group_candidates(
        cands,
        joint_order=schema.grouping_order,
        detection_threshold=protocol.detection_threshold,
        tag_threshold=protocol.tag_threshold,
        max_groups=protocol.era.grouping_max_groups,
    )
    hm = heatmaps[0].cpu().numpy()
    udp = protocol.affine == "udp"
    if protocol.adjust:
        # UDP (PROTOCOLS.md §4 "Unbiased data processing"): the DARK step on every joint, no half pixel.
        persons = dark_adjust(persons, hm) if udp else adjust_peaks(persons, hm)
    scores = person_scores(persons)
    if protocol.refine and len(persons):
        tags_cf = tags[0].permute(0, 3, 1, 2).contiguous()  # [K, L, H, W]: contiguous maps per tag component
        persons = refine_persons(persons, heatmaps[0], tags_cf, half_pixel=not udp)
    return persons, scores
