"""The single-person refine of PROTOCOLS.md §4 step 6, kept as the slow reference of
harness.bottomup.grouping.refine_persons (which does every person at once and must equal this, bit for bit:
tests/harness/perf/test_bottomup_fast_paths.py, test_bottomup_refine_search.py, tests/harness/bottomup/)."""

from __future__ import annotations

import numpy as np
import torch

from harness.bottomup.grouping import _at, _quarter_steps


def refine_person(person: np.ndarray, heatmaps: torch.Tensor, tags: torch.Tensor) -> np.ndarray:
    """Fill missing joints from the full maps (PROTOCOLS.md §4 step 6). Returns a new [K, 3 + L] row.

    person [K, 3 + L] float32 (after adjust); heatmaps [K, H, W] and tags [K, L, H, W] (channel-first) float32
    tensors on any device. prev_tag = mean tag sampled at (int(x), int(y)), clipped, of the joints with val > 0;
    for each missing joint, the argmax (first in row-major order) of heatmap - round(L2(tag - prev_tag)); val =
    heatmap there; position = pixel + 0.5, then the quarter step. A missing joint is replaced only if its new
    val > 0. The float32 operations are the reference's (squares summed in tag order, IEEE sqrt, half-to-even
    round, first maximum), so results match its numpy code exactly on CPU and GPU alike.
    """
    _, tag_len, h, w = tags.shape
    out = person.copy()
    have = np.flatnonzero(out[:, 2] > 0)
    missing = np.flatnonzero(out[:, 2] == 0)
    if have.size == 0 or missing.size == 0:
        return out
    xs = np.clip(out[have, 0].astype(np.int64), 0, w - 1)
    ys = np.clip(out[have, 1].astype(np.int64), 0, h - 1)
    dev = tags.device
    sampled = np.stack([_at(tags[:, t], have, ys, xs) for t in range(tag_len)], axis=1)  # [n, L]
    prev_tag = torch.from_numpy(np.mean(sampled, axis=0)).to(dev)  # float32 [L], np.mean of the sampled vectors
    miss = torch.as_tensor(missing, device=dev)
    sq = None
    for t in range(tag_len):
        d = tags[miss, t] - prev_tag[t]
        sq = d * d if sq is None else sq + d * d
    score = heatmaps[miss] - torch.round(torch.sqrt(sq))
    best = score.reshape(missing.size, -1).argmax(dim=1).cpu().numpy()
    y, x = np.divmod(best, w)
    val = _at(heatmaps, missing, y, x)
    dx, dy = _quarter_steps(heatmaps, missing, x, y)
    take = val > 0
    out[missing[take], 0] = (x[take] + 0.5 + dx[take]).astype(np.float32)
    out[missing[take], 1] = (y[take] + 0.5 + dy[take]).astype(np.float32)
    out[missing[take], 2] = val[take]
    return out
