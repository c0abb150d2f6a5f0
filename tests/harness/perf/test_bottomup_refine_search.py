"""Refine's pruned argmax (`refine_search.first_argmax_among_top`) gives exactly the full-map first maximum.

- on random maps (with plateaus and ties, tag spreads that settle most or few rows), every settled row's index
  equals the argmax of the full-map score computed as the former `refine_persons` did;
- `refine_persons` with tiny tiers (so that the pruning, the tier hand-over and the full-map fallback all run) equals
  the single-person reference (tests/helpers/refine_reference.py) looped over the persons, on random maps and on
  maps rendered from the COCO sample annotations.
Every comparison is exact.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import harness.bottomup.refine_search as refine_search
from harness.bottomup.grouping import parse
from tests.harness.perf.test_bottomup_fast_paths import (
    COCO_SCHEMA,
    _parse_reference,
    _random_maps,
    _rendered_sample_maps,
    assert_refine_persons_equals_loop,
)
from tests.helpers.protocols import bottomup_protocol


def _full_map_argmax(heat: torch.Tensor, tags: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """The former refine_persons search: [c, H * W] scores in float32, first maximum per row."""
    sq = tags[0].unsqueeze(0) - prev[:, 0, None]
    sq.mul_(sq)
    for t in range(1, tags.shape[0]):
        d = tags[t].unsqueeze(0) - prev[:, t, None]
        sq.add_(d.mul_(d))
    return torch.sub(heat.unsqueeze(0), sq.sqrt_().round_(), out=sq).argmax(dim=1)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("tiers", [(1,), (4, 64), (16, 10**6), (300,)])
def test_pruned_argmax_equals_full_map(seed: int, tiers: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    tag_len = int(rng.choice([1, 2, 3]))
    hm, tags = _random_maps(seed, k=1, h=30, w=41, tag_len=tag_len)
    heat = hm[0, 0].reshape(-1)
    tags_f = tags[0, 0].permute(2, 0, 1).reshape(tag_len, -1).contiguous()
    # prev tags: copies of map values (distance 0 somewhere), and random ones near or far from every pixel
    picks = tags_f[:, rng.integers(0, heat.numel(), 5)].T
    prev = torch.cat([picks, torch.from_numpy(rng.normal(0, 3.0, (20, tag_len)).astype(np.float32))])
    got, settled = refine_search.first_argmax_among_top(heat, tags_f, prev, tiers=tiers)
    expected = _full_map_argmax(heat, tags_f, prev)
    assert torch.equal(got[settled], expected[settled])
    if max(tiers) >= heat.numel():
        assert settled.all()


def test_pruning_settles_some_and_not_all() -> None:
    """The cases above exercise both outcomes of the test (else they would prove nothing about it)."""
    counts = []
    for seed in range(12):
        hm, tags = _random_maps(seed, k=1, h=30, w=41, tag_len=2)
        prev = torch.from_numpy(np.random.default_rng(seed).normal(0, 3.0, (20, 2)).astype(np.float32))
        tags_f = tags[0, 0].permute(2, 0, 1).reshape(2, -1).contiguous()
        counts.append(
            int(refine_search.first_argmax_among_top(hm[0, 0].reshape(-1), tags_f, prev, tiers=(64,))[1].sum())
        )
    assert 0 < sum(counts) < 12 * 20


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("tiers", [(2,), (8, 256), (1024, 16384)])
def test_refine_persons_with_tiers_equals_per_person_loop(seed: int, tiers, monkeypatch) -> None:
    monkeypatch.setattr(refine_search, "TIERS", tiers)
    assert_refine_persons_equals_loop(seed, h=48, w=70)


@pytest.mark.parametrize("tiers", [(4,), (64, 2048), (1024, 16384)])
def test_parse_with_tiers_equals_former_parse_on_sample_annotations(samples_dir, tiers, monkeypatch) -> None:
    monkeypatch.setattr(refine_search, "TIERS", tiers)
    hm, tags = _rendered_sample_maps(samples_dir)
    protocol = bottomup_protocol()
    got, got_scores = parse(hm, tags, protocol=protocol, schema=COCO_SCHEMA)
    ref, ref_scores = _parse_reference(hm, tags, protocol)
    assert np.array_equal(got, ref) and np.array_equal(got_scores, ref_scores)


@pytest.mark.parametrize("seed", [0, 1, None])
def test_parse_of_channels_last_maps_equals_parse_of_contiguous(samples_dir, seed) -> None:
    """A channels_last model's maps (fast mode) are made contiguous inside parse; the persons are the same bits."""
    hm, tags = _rendered_sample_maps(samples_dir) if seed is None else _random_maps(seed)
    run = {"protocol": bottomup_protocol(), "schema": COCO_SCHEMA}
    got, got_scores = parse(hm.contiguous(memory_format=torch.channels_last), tags, **run)
    ref, ref_scores = parse(hm, tags, **run)
    assert np.array_equal(got, ref) and np.array_equal(got_scores, ref_scores) and len(ref) > 0
