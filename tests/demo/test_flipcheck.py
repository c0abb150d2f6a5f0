"""The demo's own validation code (harness/demo/topdown_simple.py) and the flip check: flip test, its pairs and its
shift must matter on the demo data. Fast unit tests, plus one slow test on the shipped checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from harness.demo import generate
from harness.demo import topdown_simple as td
from harness.demo.flipcheck import flip_indices


def test_flip_back_swaps_pairs_mirrors_and_shifts_one_column_right():
    hm = np.zeros((1, 3, 4, 6), np.float32)
    hm[0, 1, 2, 1] = 1.0  # joint 1 at x=1
    out = td.flip_back(hm, [0, 2, 1])
    # channel 1 -> 2, mirrored x = 6 - 1 - 1 = 4, shifted right -> 5 (PROTOCOLS.md §3)
    assert out[0, 2, 2, 5] == 1.0 and out.sum() == 1.0
    edge = np.zeros((1, 1, 1, 4), np.float32)
    edge[0, 0, 0] = [1, 2, 3, 4]
    assert td.flip_back(edge, [0]).tolist() == [[[[4, 4, 3, 2]]]]  # column 0 keeps its own value


def test_decode_maps_heatmap_peaks_back_to_the_image():
    yy, xx = np.mgrid[0:32, 0:24]
    hm = np.exp(-((xx - 10) ** 2 + (yy - 20) ** 2) / 8.0)[None, None].astype(np.float32)
    center, scale = td.center_scale([100, 50, 60, 80], input_size=(128, 96))
    kp = td.decode(hm, center[None], scale[None])
    size = scale * 200
    assert kp[0, 0, 0] == pytest.approx(10 * size[0] / 24 + center[0] - size[0] / 2, abs=1e-3)
    assert kp[0, 0, 1] == pytest.approx(20 * size[1] / 32 + center[1] - size[1] / 2, abs=1e-3)
    assert kp[0, 0, 2] == pytest.approx(1.0)


def test_center_scale_matches_the_protocol_example():
    c, s = td.center_scale([100, 50, 80, 200], input_size=(256, 192))  # PROTOCOLS.md §3 example
    assert c.tolist() == [140, 150] and s.tolist() == pytest.approx([0.9375, 1.25])


def test_broken_flip_index_leaves_one_pair_unswapped():
    idx = flip_indices()
    assert idx["no_flip"] is None
    assert [i for i, (a, b) in enumerate(zip(idx["flip"], idx["flip_broken_pair"], strict=True)) if a != b] == [1, 2]


def test_ground_truth_predictions_score_one_and_a_left_right_swap_does_not(tmp_path):
    generate.generate(tmp_path, splits={"train": 0, "val": 12})
    coco, insts, _ = td.load_split(tmp_path, "val")
    perfect = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0} for a in insts]
    assert td.coco_ap(coco, perfect, generate.SIGMAS)["AP"] == pytest.approx(1.0)
    idx = flip_indices()["flip"]
    swapped = [
        dict(p, keypoints=np.array(p["keypoints"], float).reshape(-1, 3)[idx].reshape(-1).tolist()) for p in perfect
    ]
    assert td.coco_ap(coco, swapped, generate.SIGMAS)["AP"] < 0.3


@pytest.mark.slow
def test_shipped_checkpoint_needs_its_flip_pairs(repo_root, tmp_path):
    """Flip test with the right pairs beats a broken pair by a clear margin, and flip on != flip off."""
    import torch

    from harness.checkpoints.safe_load import load_checkpoint
    from harness.demo.flipcheck import check
    from harness.demo.train import demo_architecture
    from harness.models.posenet import build_model
    from zoo import load_registry

    url = load_registry().entry("hrnet_w8_demo_128x96").checkpoint.url
    path = repo_root / url.removeprefix("file:")
    if not path.exists():
        pytest.skip(f"{path} is absent: train it with `python -m harness.demo.train` (demo/README.md)")
    torch.set_num_threads(1)
    model = build_model(demo_architecture())
    model.load_state_dict(load_checkpoint(path).state_dict, strict=True)
    generate.generate(tmp_path, splits={"train": 0, "val": generate.DEFAULT_SPLITS["val"]})
    ap = {k: v["AP"] for k, v in check(model.eval(), tmp_path).items()}
    if ap["flip"] < 0.2:
        pytest.skip(f"the shipped checkpoint is too weak for the flip check (AP {ap['flip']:.3f})")
    assert ap["flip"] - ap["flip_broken_pair"] > 0.05
    assert ap["flip"] != ap["no_flip"]
