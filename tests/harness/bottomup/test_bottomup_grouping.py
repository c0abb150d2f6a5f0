"""HeatmapParser steps on hand-built candidates and maps (PROTOCOLS.md §4 steps 1-6, §8 items 5, 9, 10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def _cands(per_joint, *, k: int = 30, tag_len: int = 1) -> Candidates:
    """per_joint[j] = list of (x, y, val, tag...) -> Candidates padded with val-0 rows (as top-k returns)."""
    n = len(per_joint)
    val = np.zeros((n, k), dtype=np.float32)
    xy = np.zeros((n, k, 2), dtype=np.int64)
    tags = np.zeros((n, k, tag_len), dtype=np.float32)
    for j, rows in enumerate(per_joint):
        for i, (x, y, v, *t) in enumerate(rows):
            xy[j, i], val[j, i], tags[j, i] = (x, y), v, t
    return Candidates(val=val, xy=xy, tags=tags)


def _group(per_joint, *, order=None, max_groups=None, tag_len=1, thr=1.0):
    c = _cands(per_joint, tag_len=tag_len)
    order = list(range(len(per_joint))) if order is None else order
    return group_candidates(c, joint_order=order, detection_threshold=0.1, tag_threshold=thr, max_groups=max_groups)


def test_two_people_are_separated_by_tag():
    persons = _group([
        [(10, 10, 0.9, 0.0), (30, 30, 0.8, 5.0)],
        [(31, 35, 0.7, 5.1), (11, 15, 0.6, 0.2)],
        [(12, 20, 0.5, -0.1)],
    ])  # fmt: skip
    assert persons.shape == (2, 3, 4) and persons.dtype == np.float32
    np.testing.assert_allclose(persons[0], [[10, 10, 0.9, 0.0], [11, 15, 0.6, 0.2], [12, 20, 0.5, -0.1]], rtol=1e-6)
    np.testing.assert_allclose(persons[1], [[30, 30, 0.8, 5.0], [31, 35, 0.7, 5.1], [0, 0, 0, 0]], rtol=1e-6)


@pytest.mark.parametrize(("tag", "joins"), [(0.9, True), (0.5, True), (0.999, True), (1.0, False), (1.2, False)])
def test_acceptance_uses_the_unrounded_distance(tag, joins):
    """round(0.9) = 1 = round(1.2): same cost class, but only dist < 1 joins; 1.0 itself is rejected."""
    persons = _group([[(10, 10, 0.9, 0.0)], [(11, 11, 0.9, tag)]])
    assert len(persons) == (1 if joins else 2)


def test_cost_is_rounded_distance_minus_val():
    """Both candidates are within 0.5 of the group (rounded distance 0): the higher val wins, not the nearer tag."""
    persons = _group([[(10, 10, 0.9, 0.0)], [(20, 20, 0.5, 0.3), (21, 21, 0.9, 0.45)]])
    assert len(persons) == 2
    np.testing.assert_allclose(persons[0, 1], [21, 21, 0.9, 0.45], rtol=1e-6)
    np.testing.assert_allclose(persons[1, 1], [20, 20, 0.5, 0.3], rtol=1e-6)  # the other starts a person


def test_group_tag_is_the_mean_of_assigned_tags():
    """Group tags 0.0 and 0.8 -> mean 0.4; a candidate at 1.3 is 0.9 from the mean (joins), 1.3 from the first."""
    persons = _group([[(1, 1, 0.9, 0.0)], [(2, 2, 0.9, 0.8)], [(3, 3, 0.9, 1.3)]])
    assert len(persons) == 1


def test_distance_is_l2_over_the_tag_vector():
    near = _group([[(1, 1, 0.9, 0.0, 0.0)], [(2, 2, 0.9, 0.6, 0.6)]], tag_len=2)  # 0.85
    far = _group([[(1, 1, 0.9, 0.0, 0.0)], [(2, 2, 0.9, 0.8, 0.8)]], tag_len=2)  # 1.13
    assert (len(near), len(far)) == (1, 2)


def test_detection_threshold_is_strict():
    persons = _group([[(1, 1, 0.1, 0.0), (2, 2, 0.1000001, 5.0)]])
    assert len(persons) == 1 and persons[0, 0, 0] == 2


def test_joint_order_decides_who_starts_persons():
    per_joint = [[(1, 1, 0.9, 0.0)], [(2, 2, 0.9, 5.0)], [(3, 3, 0.9, 5.2), (4, 4, 0.8, 0.1)]]
    persons = _group(per_joint, order=[2, 0, 1])
    assert len(persons) == 2
    np.testing.assert_allclose(persons[0, :, 0], [0, 2, 3])  # started by joint 2's first candidate
    np.testing.assert_allclose(persons[1, :, 0], [1, 0, 4])


def _thirty_one_groups(third_tag: float):
    first = [(i, 0, 0.9, 10.0 * i) for i in range(30)]
    return [first, [(50, 50, 0.9, 300.0)], [(51, 51, 0.9, third_tag)]]


def test_model_zoo_truncation_to_thirty_groups_changes_the_assignment():
    """PROTOCOLS.md §4 step 3 / §8 item 10: group 31 (insertion order) is not offered as a target in that era."""
    per_joint = _thirty_one_groups(300.2)
    all_groups = _group(per_joint, max_groups=None)
    first_30 = _group(per_joint, max_groups=30)
    assert len(all_groups) == 31 and all_groups[30, 2, 0] == 51  # joined person 31
    assert len(first_30) == 32 and first_30[31, 2, 0] == 51 and first_30[30, 2, 2] == 0  # started person 32


def test_same_first_tag_value_shares_one_person_key():
    """The reference keys persons by the first tag value: a new person with an existing key reuses that row."""
    persons = _group([[(1, 1, 0.9, 7.0), (2, 2, 0.8, 7.0)]])
    assert len(persons) == 1 and persons[0, 0, 0] == 2


def _hm(k=2, h=8, w=10) -> np.ndarray:
    return np.zeros((k, h, w), dtype=np.float32)


def test_adjust_quarter_steps_ties_down_and_half_pixel():
    hm = _hm()
    hm[0, 4, 5], hm[0, 4, 6], hm[0, 4, 4] = 1.0, 0.5, 0.2  # right > left -> +0.25
    hm[0, 5, 5] = hm[0, 3, 5] = 0.3  # down == up -> -0.25
    persons = np.zeros((1, 2, 4), dtype=np.float32)
    persons[0, 0] = (5, 4, 1.0, 0)
    out = adjust_peaks(persons, hm)
    np.testing.assert_allclose(out[0, 0, :2], [5.75, 4.25])
    np.testing.assert_array_equal(out[0, 1], 0)  # missing joints are not adjusted
    np.testing.assert_array_equal(persons[0, 0, :2], [5, 4])  # input untouched


def test_adjust_clamps_borders():
    hm = _hm()
    hm[0, 0, 0], hm[0, 0, 1], hm[0, 1, 0] = 0.5, 0.9, 0.1  # x: right 0.9 > clamped left 0.5; y: down 0.1 < up 0.5
    hm[1, 7, 9], hm[1, 7, 8], hm[1, 6, 9] = 0.5, 0.1, 0.9  # x: clamped right 0.5 > left 0.1; y: down 0.5 < up 0.9
    persons = np.array([[[0, 0, 0.5, 0], [9, 7, 0.5, 0]]], dtype=np.float32)
    out = adjust_peaks(persons, hm)
    np.testing.assert_allclose(out[0, :, :2], [[0.75, 0.25], [9.75, 7.25]])


def test_score_is_mean_over_all_joints():
    persons = np.zeros((2, 4, 3), dtype=np.float32)
    persons[0, :2, 2] = 0.8
    persons[1, :, 2] = 0.5
    np.testing.assert_allclose(person_scores(persons), [0.4, 0.5])


def test_refine_fills_missing_joint_from_own_tag_region():
    hm = _hm()
    tags = np.zeros((2, 8, 10, 1), dtype=np.float32)
    tags[:, :, :5] = 1.0  # person's region
    tags[:, :, 5:] = 5.0  # somebody else's
    hm[1, 3, 2], hm[1, 3, 3], hm[1, 3, 1] = 0.6, 0.3, 0.3  # own peak, neighbour tie in x
    hm[1, 4, 2] = 0.4  # y: down 0.4 > up 0 -> +0.25
    hm[1, 6, 8] = 0.95  # brighter, but round(|5 - 1|) = 4 away
    person = np.zeros((2, 4), dtype=np.float32)
    person[0] = (4.75, 4.25, 0.9, 1.0)
    out = _refine_one(person, torch.from_numpy(hm), _cf(tags))
    np.testing.assert_allclose(out[1, :3], [2 + 0.5 - 0.25, 3 + 0.5 + 0.25, 0.6])
    np.testing.assert_array_equal(out[0], person[0])


def test_refine_keeps_joint_missing_when_nothing_positive():
    person = np.zeros((2, 4), dtype=np.float32)
    person[0] = (1.25, 1.25, 0.9, 0.0)
    out = _refine_one(person, torch.from_numpy(_hm()), _cf(np.zeros((2, 8, 10, 1), dtype=np.float32)))
    np.testing.assert_array_equal(out, person)


def _cf(tags: np.ndarray) -> torch.Tensor:
    """[K, H, W, L] numpy -> [K, L, H, W] tensor, the layout refine_persons takes."""
    return torch.from_numpy(np.ascontiguousarray(tags.transpose(0, 3, 1, 2)))


def _refine_one(person: np.ndarray, heatmaps: torch.Tensor, tags: torch.Tensor) -> np.ndarray:
    """refine_persons of one person [K, 3 + L]."""
    return refine_persons(person[None], heatmaps, tags)[0]


def _refine_reference(person, heatmaps, tags):
    """PROTOCOLS.md §4 step 6 written plainly in numpy, joint by joint, as the reference computes it."""
    k, h, w = heatmaps.shape
    picked = []
    for i in range(k):
        if person[i, 2] > 0:
            x, y = person[i, :2].astype(int)
            picked.append(tags[i, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)])
    prev_tag = np.mean(picked, axis=0)
    out = person.copy()
    for i in range(k):
        dist = ((tags[i] - prev_tag[None, None, :]) ** 2).sum(axis=2) ** 0.5
        y, x = np.unravel_index(np.argmax(heatmaps[i] - np.round(dist)), (h, w))
        val = heatmaps[i, y, x]
        xf = x + 0.5 + (0.25 if heatmaps[i, y, min(w - 1, x + 1)] > heatmaps[i, y, max(0, x - 1)] else -0.25)
        yf = y + 0.5 + (0.25 if heatmaps[i, min(h - 1, y + 1), x] > heatmaps[i, max(0, y - 1), x] else -0.25)
        if val > 0 and person[i, 2] == 0:
            out[i, :3] = xf, yf, val
    return out


@pytest.mark.parametrize("tag_len", [1, 2])
def test_refine_matches_plain_numpy_reference(tag_len):
    rng = np.random.default_rng(tag_len)
    k, h, w = 5, 20, 24
    for _ in range(20):
        # Coarse values make ties (equal scores, equal neighbours) common.
        heatmaps = (rng.integers(-2, 8, size=(k, h, w)) / 8).astype(np.float32)
        tags = (rng.integers(0, 12, size=(k, h, w, tag_len)) / 4).astype(np.float32)
        person = np.zeros((k, 3 + tag_len), dtype=np.float32)
        for i in rng.choice(k, size=2, replace=False):
            person[i, :3] = rng.integers(0, w) + 0.75, rng.integers(0, h) + 0.25, 0.5
        ours = _refine_one(person, torch.from_numpy(heatmaps), _cf(tags))
        np.testing.assert_array_equal(ours, _refine_reference(person, heatmaps, tags))


def test_group_mean_tag_equals_numpy_mean_of_the_list():
    """The running float32 sum / count is bit-identical to the reference's np.mean(list_of_tags, axis=0)."""
    from harness.bottomup.grouping import _Groups

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 8, 9, 17, 30):
        tags = rng.normal(size=(n, 2)).astype(np.float32) * 3
        groups = _Groups(num_joints=1, tag_len=2)
        groups.start(0, np.zeros(5), tags[0])
        for t in tags[1:]:
            groups.add(0, 0, np.zeros(5), t)
        np.testing.assert_array_equal(groups.mean_tags([0])[0], np.mean(list(tags), axis=0))


def test_nms_keeps_only_window_maxima_and_plateaus():
    hm = torch.zeros(1, 1, 9, 9)
    hm[0, 0, 4, 4], hm[0, 0, 4, 6], hm[0, 0, 0, 0], hm[0, 0, 0, 1] = 1.0, 0.9, 0.5, 0.5
    out = heatmap_nms(hm, kernel=5)
    assert out[0, 0, 4, 4] == 1.0 and out[0, 0, 4, 6] == 0  # within 2 px of a higher peak
    assert out[0, 0, 0, 0] == out[0, 0, 0, 1] == 0.5  # equal neighbours both survive


def test_parse_two_people_end_to_end():
    k, h, w = 2, 24, 32
    heat = torch.zeros(1, k, h, w)
    tags = torch.zeros(1, k, h, w, 1)
    tags[..., :16, 0], tags[..., 16:, 0] = 1.0, 9.0
    for j, (xa, ya, xb, yb) in enumerate([(4, 5, 20, 6), (6, 12, 25, 14)]):
        heat[0, j, ya, xa], heat[0, j, yb, xb] = 0.9, 0.7
    persons, scores = parse(heat, tags, protocol=bottomup_protocol(), schema=keypoint_schema(2))
    assert persons.shape == (2, k, 4)
    np.testing.assert_allclose(persons[0, :, :2], [[4.25, 5.25], [6.25, 12.25]])  # all ties -> -0.25, +0.5
    np.testing.assert_allclose(persons[1, :, :2], [[20.25, 6.25], [25.25, 14.25]])
    np.testing.assert_allclose(scores, [0.9, 0.7], rtol=1e-6)


def test_scores_are_taken_before_refine():
    k, h, w = 2, 12, 12
    heat = torch.zeros(1, k, h, w)
    heat[0, 0, 3, 3] = 0.8
    heat[0, 1, 8, 8] = 0.05  # below the detection threshold: only refine can add it
    tags = torch.zeros(1, k, h, w, 1)
    persons, scores = parse(heat, tags, protocol=bottomup_protocol(), schema=keypoint_schema(2))
    assert persons[0, 1, 2] == pytest.approx(0.05)  # refined in
    np.testing.assert_allclose(scores, [0.4])  # (0.8 + 0) / 2
