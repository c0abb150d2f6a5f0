"""Keypoint schemas (PROTOCOLS.md §3, §5): flip pairs mirror left/right names, sigma and grouping orders."""

from __future__ import annotations

import pytest

from zoo import load_registry


@pytest.fixture(scope="module")
def schemas():
    return load_registry().schemas


def test_sizes_and_sigmas(schemas):
    sizes = {name: s.num_keypoints for name, s in schemas.items()}
    assert sizes == {
        "aic": 14, "coco": 17, "macaque": 17, "atrw": 15, "horse10": 22, "demo": 13, "crowdpose": 14, "mpii": 16
    }  # fmt: skip
    for name, s in schemas.items():
        assert s.sigmas is None if name in ("horse10", "mpii") else len(s.sigmas) == s.num_keypoints
    assert schemas["macaque"].sigmas == schemas["coco"].sigmas
    assert schemas["aic"].sigmas[0] == 0.01388152


@pytest.mark.parametrize("name", ["aic", "coco", "macaque", "atrw", "crowdpose"])
def test_flip_pairs_swap_left_and_right(schemas, name):
    s = schemas[name]
    for a, b in s.flip_pairs:
        left, right = sorted([s.keypoints[a], s.keypoints[b]])
        assert left.startswith("left_") and right == "right_" + left.removeprefix("left_")
    unpaired = set(range(s.num_keypoints)) - {i for p in s.flip_pairs for i in p}
    assert not any(s.keypoints[i].startswith(("left_", "right_")) for i in unpaired)


def test_flip_index_and_grouping_order(schemas):
    # PROTOCOLS.md §4: bottom-up flip_index of COCO and AIC.
    assert schemas["coco"].flip_index == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    assert schemas["aic"].flip_index == (3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13)
    assert schemas["coco"].grouping_order == (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
    assert schemas["aic"].grouping_order == tuple(range(14))
    # CrowdPose (MMPose 0.29's `swap` names): pairs side by side, head and neck fixed; 14 joints: index order.
    assert schemas["crowdpose"].flip_index == (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13)
    assert schemas["crowdpose"].grouping_order == tuple(range(14))
    assert schemas["horse10"].flip_pairs == () and schemas["horse10"].grouping_order == tuple(range(22))
