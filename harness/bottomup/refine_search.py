"""Refine's per-map argmax searched over the highest heatmap pixels only, exactly (PROTOCOLS.md §4 step 6).

Refine scores every pixel of joint j's map as s = heatmap - round(L2(tag - prev_tag)) and takes the first maximum
(row-major). The rounded distance is >= 0, so s <= heatmap at every pixel (float32 subtraction of a non-negative
number never exceeds its minuend: rounding is monotone). Hence, over the T highest heatmap pixels S with smallest
value h_T: if the best score found in S is > h_T, no pixel outside S (heatmap <= h_T) can reach or tie it, and the
global first maximum is the smallest flat index in S that scores the best. The scores in S are computed with the
very float32 operations of the full-map search, in the same order, so they are bit for bit those values. Persons
that the test does not settle (the best in S is <= h_T) are left to the full-map search.
On realistic maps the best score sits near a heatmap peak, so a few thousand pixels settle nearly every person
instead of scoring H x W per person.
"""

from __future__ import annotations

import torch

#: Pixel counts tried in turn; the full map is the caller's last resort.
TIERS: tuple[int, ...] = (1024, 16384)


def _scores(top_heat: torch.Tensor, top_tags: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """[c, T] scores: top_heat [T], top_tags [L, T], prev [c, L]; the full-map search's operations and order
    (difference, squared, summed in tag order, sqrt, half-to-even round, heatmap minus that)."""
    sq = top_tags[0].unsqueeze(0) - prev[:, 0, None]
    sq.mul_(sq)
    for t in range(1, top_tags.shape[0]):
        d = top_tags[t].unsqueeze(0) - prev[:, t, None]
        sq.add_(d.mul_(d))
    return torch.sub(top_heat.unsqueeze(0), sq.sqrt_().round_(), out=sq)


def first_argmax_among_top(
    heat: torch.Tensor, tags: torch.Tensor, prev: torch.Tensor, *, tiers: tuple[int, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat index [c] int64, settled [c] bool) of the first maximum of heat - round(L2(tags - prev[i])) per row i.

    heat [H * W] and tags [L, H * W] float32 (one joint's maps, flattened), prev [c, L] float32. Where settled is
    False the index is meaningless: search those rows over the full map. tiers: pixel counts tried in turn (TIERS).
    """
    n = heat.numel()
    best = torch.zeros(len(prev), dtype=torch.int64, device=heat.device)
    settled = torch.zeros(len(prev), dtype=torch.bool, device=heat.device)
    todo = torch.arange(len(prev), device=heat.device)
    for size in TIERS if tiers is None else tiers:
        if not len(todo):
            break
        size = min(size, n)
        top_heat, top_idx = heat.topk(size, sorted=False)
        score = _scores(top_heat, tags[:, top_idx], prev[todo])
        high = score.max(dim=1).values
        # size == n: every pixel is in S and its first maximum is the answer whatever h_T is.
        ok = high > top_heat.min() if size < n else torch.ones_like(high, dtype=torch.bool)
        at_best = score == high[:, None]
        first = torch.where(at_best, top_idx.unsqueeze(0), torch.full_like(top_idx, n).unsqueeze(0)).amin(dim=1)
        best[todo[ok]] = first[ok]
        settled[todo[ok]] = True
        todo = todo[~ok]
        if size == n:
            break
    return best, settled
