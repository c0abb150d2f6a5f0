"""The faster bottom-up grouping paths give bit-identical results to the implementations they replaced.

- `heatmap_nms` (row max then column max, by shifted maxima) == the k x k `max_pool2d` NMS, on maps with plateaus,
  ties, negatives and signed zeros, also smaller than the window;
- `refine_persons` (all persons at once) == the single-person reference (tests/helpers/refine_reference.py) looped
  over the persons;
- `parse` == the former parse (k x k NMS, per-person refine) end to end, on random maps and on maps rendered from
  the COCO sample's annotations (several people, missing joints, peaks on plateaus).
Every comparison is exact (np.array_equal / torch.equal).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.bottomup.grouping import (
    Candidates,
    adjust_peaks,
    group_candidates,
    heatmap_nms,
    parse,
    person_scores,
    refine_persons,
)
from tests.helpers.protocols import bottomup_protocol, keypoint_schema
from tests.helpers.refine_reference import refine_person
from zoo.registry.schema import BottomUpProtocol, KeypointSchema

COCO_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)  # PROTOCOLS.md §4
COCO_SCHEMA = keypoint_schema(17, grouping_order=COCO_ORDER)


def _nms_reference(heatmaps: torch.Tensor, kernel: int) -> torch.Tensor:
    pooled = F.max_pool2d(heatmaps, kernel, stride=1, padding=(kernel - 1) // 2)
    return heatmaps * torch.eq(pooled, heatmaps).to(heatmaps.dtype)


def _parse_reference(
    heatmaps: torch.Tensor, tags: torch.Tensor, protocol: BottomUpProtocol, schema: KeypointSchema = COCO_SCHEMA
):
    """The former parse: k x k max_pool2d NMS, top-k, grouping, adjust, scores, per-person refine (the protocol's
    adjust and refine are on)."""
    assert protocol.adjust and protocol.refine
    _, k, h, w = heatmaps.shape
    flat = _nms_reference(heatmaps, protocol.nms_kernel).reshape(1, k, h * w)
    val, ind = flat.topk(min(protocol.max_num_people, h * w), dim=2)
    tag_flat = tags.reshape(1, k, h * w, tags.shape[-1])
    tag_k = torch.gather(tag_flat, 2, ind.unsqueeze(-1).expand(-1, -1, -1, tags.shape[-1]))
    xy = torch.stack((ind % w, ind // w), dim=3)
    cands = Candidates(val=val[0].numpy(), xy=xy[0].numpy(), tags=tag_k[0].numpy())
    persons = group_candidates(
        cands,
        joint_order=schema.grouping_order,
        detection_threshold=protocol.detection_threshold,
        tag_threshold=protocol.tag_threshold,
        max_groups=protocol.era.grouping_max_groups,
    )
    persons = adjust_peaks(persons, heatmaps[0].numpy())
    scores = person_scores(persons)
    if len(persons):
        tags_cf = tags[0].permute(0, 3, 1, 2).contiguous()
        persons = np.stack([refine_person(p, heatmaps[0], tags_cf) for p in persons])
    return persons, scores


def _random_maps(seed: int, *, k: int = 17, h: int = 40, w: int = 56, tag_len: int = 2):
    rng = np.random.default_rng(seed)
    hm = rng.uniform(-0.2, 1.0, (1, k, h, w))
    if seed % 2:  # coarse values: plateaus and ties everywhere
        hm = np.round(hm * 4) / 4
    tags = rng.normal(0, rng.choice([0.3, 2.0]), (1, k, h, w, tag_len))
    return torch.from_numpy(hm.astype(np.float32)), torch.from_numpy(tags.astype(np.float32))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_separable_nms_equals_max_pool(seed: int, kernel: int) -> None:
    hm, _ = _random_maps(seed)
    assert torch.equal(heatmap_nms(hm, kernel=kernel), _nms_reference(hm, kernel))


@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (3, 9), (6, 2)])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
def test_separable_nms_equals_max_pool_on_maps_smaller_than_the_window(hw, kernel: int) -> None:
    for seed in range(4):
        hm = torch.from_numpy(np.round(np.random.default_rng(seed).uniform(-1, 1, (1, 3, *hw)) * 2).astype(np.float32))
        assert torch.equal(heatmap_nms(hm, kernel=kernel), _nms_reference(hm, kernel))


def _random_persons(rng: np.random.Generator, *, p: int, k: int, h: int, w: int, tag_len: int) -> np.ndarray:
    persons = np.zeros((p, k, 3 + tag_len), dtype=np.float32)
    persons[..., 0] = rng.uniform(-2, w + 2, (p, k))  # outside the map too: sampling clips
    persons[..., 1] = rng.uniform(-2, h + 2, (p, k))
    persons[..., 2] = np.where(rng.random((p, k)) < rng.uniform(0.1, 0.9), rng.uniform(0.05, 1, (p, k)), 0)
    persons[0, :, 2] = 0  # a person without joints: unchanged
    if p > 1:
        persons[1, :, 2] = 0.5  # a complete person: unchanged
    persons[..., 3:] = rng.normal(0, 1, (p, k, tag_len))
    return persons


def assert_refine_persons_equals_loop(seed: int, *, h: int, w: int) -> tuple:
    """refine_persons == refine_person looped over random persons on seeded random maps [1, 5, h, w]; returns
    (persons, heatmaps, channel-first tags, tag length) for further checks."""
    rng = np.random.default_rng(seed)
    tag_len = int(rng.choice([1, 2]))
    hm, tags = _random_maps(seed, k=5, h=h, w=w, tag_len=tag_len)
    persons = _random_persons(rng, p=int(rng.integers(1, 80)), k=5, h=h, w=w, tag_len=tag_len)
    tags_cf = tags[0].permute(0, 3, 1, 2).contiguous()
    expected = np.stack([refine_person(p, hm[0], tags_cf) for p in persons])
    got = refine_persons(persons, hm[0], tags_cf)
    assert np.array_equal(got, expected) and got.dtype == expected.dtype
    return persons, hm, tags_cf, tag_len


@pytest.mark.parametrize("seed", range(10))
def test_refine_persons_equals_per_person_loop(seed: int) -> None:
    persons, hm, tags_cf, tag_len = assert_refine_persons_equals_loop(seed, h=24, w=31)
    assert refine_persons(persons[:0], hm[0], tags_cf).shape == (0, 5, 3 + tag_len)


@pytest.mark.parametrize("seed", range(6))
def test_parse_equals_former_parse_on_random_maps(seed: int) -> None:
    hm, tags = _random_maps(seed)
    protocol = bottomup_protocol(detection_threshold=0.1 if seed < 3 else 0.6)
    got, got_scores = parse(hm, tags, protocol=protocol, schema=COCO_SCHEMA)
    ref, ref_scores = _parse_reference(hm, tags, protocol)
    assert np.array_equal(got, ref) and np.array_equal(got_scores, ref_scores) and len(got) > 0


def _rendered_sample_maps(samples_dir, *, h: int = 212, w: int = 320, seed: int = 0):
    """Heatmaps/tags at half the image size from the COCO sample's image 785 + 196141 annotations (Gaussian peaks,
    one tag value per person, noise), stacked as [1, K, H, W] / [1, K, H, W, 2]."""
    gt = json.loads((samples_dir / "coco" / "test_coco.json").read_text())
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    hm = rng.uniform(0, 0.08, (17, h, w))
    tags = rng.normal(0, 0.05, (17, h, w, 2))
    for n, ann in enumerate(a for a in gt["annotations"] if a["image_id"] in (785, 196141)):
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        for j in np.flatnonzero(kp[:, 2] > 0):
            x, y = kp[j, 0] / 2 % w, kp[j, 1] / 2 % h
            g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
            hm[j] = np.maximum(hm[j], g * rng.uniform(0.3, 1.0))
            tags[j][g > 0.05] = 2.0 * n + rng.normal(0, 0.1, 2)
    hm = np.round(hm, 2)  # plateaus at the peaks
    return torch.from_numpy(hm[None].astype(np.float32)), torch.from_numpy(tags[None].astype(np.float32))


def test_parse_equals_former_parse_on_sample_annotations(samples_dir) -> None:
    hm, tags = _rendered_sample_maps(samples_dir)
    protocol = bottomup_protocol()
    got, got_scores = parse(hm, tags, protocol=protocol, schema=COCO_SCHEMA)
    ref, ref_scores = _parse_reference(hm, tags, protocol)
    assert np.array_equal(got, ref) and np.array_equal(got_scores, ref_scores)
    assert len(got) >= 3 and (got[..., 2] > 0).sum() > (ref[..., 2] > 0).sum() * 0.5
