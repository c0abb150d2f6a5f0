"""Grouping off the critical path: image i is grouped and refined in a worker process while the model runs on image
i+1 (PROTOCOLS.md §4 steps 1-6 and the projection to image pixels, per image, in `group_image`).

Grouping is CPU work (~0.3 s per image on one core with realistic weights, more with multi-scale); the forward
passes and the aggregation stay in the main process, on its device. `predict_bottomup_dataset(pool=)` hands each
image's aggregated maps (float32 numpy arrays) to the pool and collects the records in image order, so the output
is the serial path's, record for record: both run `group_image`, whose steps compare, select or compute per element
(no reduction whose order a thread count could change); tests/harness/bottomup/test_grouping_workers.py compares
them bit for bit, single- and multi-scale, both eras. Workers are spawned (not forked: a fork of a process that has
started torch's thread pools can hang) and run torch on one thread each.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

from harness.bottomup import udp
from harness.bottomup.grouping import parse
from harness.bottomup.resize import ScalePlan, transform_to_image
from zoo.registry.schema import BottomUpProtocol, KeypointSchema


def default_workers() -> int:
    """Grouping processes when --workers is not given: every core but one (the main process runs the model and the
    aggregation), shared among the ranks of this machine under torchrun (LOCAL_WORLD_SIZE); at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_rank = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, per_rank - 1)


def group_image(
    heatmaps: Any, tags: Any, plan: ScalePlan, protocol: BottomUpProtocol, schema: KeypointSchema, image_id: int
) -> list[dict[str, Any]]:
    """COCO results of one image from its aggregated maps (heatmaps [1, K, H, W], tags [1, K, H, W, L]; tensors or
    numpy arrays): grouping, adjust, refine as the protocol says (`parse`), projection to image pixels. keypoints:
    [x, y, val] * K (float32 values); score: mean val over all K, before refine."""
    heatmaps, tags = torch.as_tensor(heatmaps), torch.as_tensor(tags)
    persons, scores = parse(heatmaps, tags, protocol=protocol, schema=schema)
    if protocol.affine == "udp":
        xy = udp.to_image(persons[..., :2], plan, heatmaps.shape[-2:])
    else:
        xy = transform_to_image(
            persons[..., :2], center=plan.base.center, scale=plan.base.scale, size_hw=plan.base_size_hw
        )
    keypoints = np.concatenate([xy, persons[..., 2:3]], axis=-1)  # [P, K, 3] float32
    return [
        {"image_id": image_id, "category_id": 1, "keypoints": [float(v) for v in kpts.reshape(-1)], "score": float(s)}
        for kpts, s in zip(keypoints, scores, strict=True)
    ]


def _ready() -> bool:
    return True


def _worker_init() -> None:
    torch.set_num_threads(1)  # one core per worker; the pool has as many workers as cores to spare


class GroupingPool:
    """`workers` spawned grouping processes; `ordered()` starts one in-order collection (e.g. one chunk's)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        ctx = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)

    def warm(self) -> None:
        """Start every worker now (their start-up, an interpreter and torch each, is then not paid by the images)."""
        for f in [self.executor.submit(_ready) for _ in range(self.workers)]:
            f.result()

    def ordered(self) -> OrderedResults:
        # two images in flight per worker: a worker never waits for the next maps, memory stays bounded
        return OrderedResults(self.executor, limit=2 * self.workers)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def grouping_pool(workers: int) -> Iterator[GroupingPool | None]:
    """A pool of `workers` grouping processes (None for 0: group in the main process, serially)."""
    if workers < 1:
        yield None
        return
    pool = GroupingPool(workers)
    try:
        yield pool
    finally:
        pool.close()


class OrderedResults:
    """Futures collected in submission order; at most `limit` in flight (each holds one image's maps in memory)."""

    def __init__(self, pool: ProcessPoolExecutor, limit: int) -> None:
        self.pool, self.limit = pool, max(1, limit)
        self.pending: deque[Future] = deque()
        self.done: list[dict[str, Any]] = []

    def submit(
        self,
        heatmaps: torch.Tensor,
        tags: torch.Tensor,
        plan: ScalePlan,
        protocol: BottomUpProtocol,
        schema: KeypointSchema,
        image_id: int,
    ) -> None:
        """Group one image in the pool (`group_image`); the protocol and schema travel with it (small frozen
        records, pickled with the maps)."""
        while len(self.pending) >= self.limit:
            self.done.extend(self.pending.popleft().result())
        maps = (heatmaps.detach().cpu().numpy(), tags.detach().cpu().numpy())
        self.pending.append(self.pool.submit(group_image, *maps, plan, protocol, schema, image_id))

    def drain(self) -> list[dict[str, Any]]:
        while self.pending:
            self.done.extend(self.pending.popleft().result())
        return self.done
