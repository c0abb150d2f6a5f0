"""The demo's synthetic data: byte-for-byte determinism, COCO validity, and left/right cues that agree with the
flip pairs (harness/demo/generate.py). Fast: a few dozen small images."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from harness.demo import generate

N_VAL = 30


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_gen")
    generate.generate(root, splits={"train": 6, "val": N_VAL})
    return root


@pytest.fixture(scope="module")
def val(root) -> dict:
    return json.loads((root / "annotations" / "val.json").read_text())


def test_generation_is_byte_for_byte_deterministic(root, tmp_path):
    again = generate.generate(tmp_path, splits={"train": 6, "val": N_VAL})
    first = json.loads((root / "manifest.json").read_text())
    assert again["files"] == first["files"]  # every PNG and json, byte for byte
    assert again["content_sha256"] == first["content_sha256"]


def test_val_split_does_not_depend_on_train_size(root, tmp_path):
    other = generate.generate(tmp_path, splits={"train": 2, "val": N_VAL})
    first = json.loads((root / "manifest.json").read_text())["files"]
    val_files = {k: v for k, v in first.items() if "val" in k}
    assert val_files == {k: v for k, v in other["files"].items() if "val" in k}


def test_other_seed_gives_other_data(root, tmp_path):
    other = generate.generate(tmp_path, seed=1, splits={"train": 0, "val": 3})
    first = json.loads((root / "manifest.json").read_text())["files"]
    assert other["files"]["annotations/val.json"] != first["annotations/val.json"]


def test_schema_flip_pairs_swap_left_and_right_names():
    k = generate.KEYPOINTS
    assert len(k) == len(generate.SIGMAS) == 13
    paired = [j for pair in generate.FLIP_PAIRS for j in pair]
    assert len(set(paired)) == len(paired)
    for a, b in generate.FLIP_PAIRS:
        assert k[a].startswith("left_") and k[b] == "right_" + k[a].removeprefix("left_")
    unpaired = set(range(len(k))) - set(paired)
    assert all(not k[j].startswith(("left_", "right_")) for j in unpaired)


def test_coco_json_loads_with_pycocotools_and_xtcocotools(root, val):
    from pycocotools.coco import COCO
    from xtcocotools.coco import COCO as XCOCO

    for api in (COCO, XCOCO):
        coco = api(str(root / "annotations" / "val.json"))
        assert len(coco.getImgIds()) == N_VAL
        assert len(coco.getAnnIds()) == len(val["annotations"]) >= N_VAL
    assert val["categories"][0]["keypoints"] == list(generate.KEYPOINTS)


def test_annotations_are_consistent_with_their_images(root, val):
    images = {im["id"]: im for im in val["images"]}
    counts = {0: 0, 1: 0, 2: 0}
    for a in val["annotations"]:
        im = images[a["image_id"]]
        h, w = im["height"], im["width"]
        assert cv2.imread(str(root / "images" / "val" / im["file_name"])).shape == (h, w, 3)
        assert a["iscrowd"] == 0 and a["area"] > 0
        x, y, bw, bh = a["bbox"]
        assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
        assert a["area"] <= bw * bh
        kp = np.array(a["keypoints"], float).reshape(-1, 3)
        assert a["num_keypoints"] == int((kp[:, 2] > 0).sum()) > 0
        labelled = kp[kp[:, 2] > 0]
        assert ((labelled[:, 0] >= 0) & (labelled[:, 0] <= w - 1)).all()
        assert ((labelled[:, 1] >= 0) & (labelled[:, 1] <= h - 1)).all()
        assert (kp[kp[:, 2] == 0, :2] == 0).all()
        for v in kp[:, 2]:
            counts[int(v)] += 1
    # Truncation (v=0) and occlusion (v=1) both occur, and most joints are visible.
    assert counts[0] > 0 and counts[1] > 0 and counts[2] > 0.6 * sum(counts.values())
    per_image = np.bincount([a["image_id"] for a in val["annotations"]])[1:]
    assert per_image.max() >= 2 and per_image.min() >= 1


def _stripe_sign(img: np.ndarray, p: np.ndarray, r: int) -> float:
    """Sign of the mean gradient cross term Gx*Gy in a (2r+1)^2 window at p: > 0 for "/" stripes, < 0 for "\\"."""
    g = img.astype(np.float32)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    x, y = int(p[0]), int(p[1])
    win = (slice(y - r, y + r + 1), slice(x - r, x + r + 1))
    gxy = float((gx[win] * gy[win]).sum())
    energy = float((gx[win] ** 2 + gy[win] ** 2).sum())
    return gxy / energy if energy > 0 else 0.0


def _limb_signs(img: np.ndarray, kp: np.ndarray, owner: np.ndarray, label: int, size: float):
    """Stripe sign at the middle of each limb whose ends are on the figure, for left and for right limbs."""
    r = max(1, int(0.18 * size / 2) - 2)  # stay inside the limb: its edges would add their own orientation
    h, w = owner.shape
    out = {"left": [], "right": []}
    for side, limbs in (("left", generate.LEFT_LIMBS), ("right", generate.RIGHT_LIMBS)):
        for a, b in limbs:
            m = np.rint((kp[a] + kp[b]) / 2).astype(int)
            if not (r + 2 <= m[0] < w - r - 2 and r + 2 <= m[1] < h - r - 2):
                continue
            if (owner[m[1] - r : m[1] + r + 1, m[0] - r : m[0] + r + 1] != label).any():
                continue  # occluded or overlapping another limb
            out[side].append(_stripe_sign(img, m, r))
    return out


def test_left_and_right_limbs_carry_mirror_images_of_one_texture():
    """Left limbs carry "/" stripes and right limbs "\\"; after a horizontal mirror with the flip pairs swapped the
    relabelled left limbs carry "/" again: the left/right cue is mirror-consistent, as flip augmentation assumes."""
    rng = np.random.Generator(np.random.PCG64([3, 1]))
    orig = {"left": [], "right": []}
    mirrored = {"left": [], "right": []}
    flip_index = list(range(13))
    for a, b in generate.FLIP_PAIRS:
        flip_index[a], flip_index[b] = b, a
    for _ in range(40):
        img, figures, owner = generate.render_image(rng)
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        w = img.shape[1]
        for i, f in enumerate(figures):
            size = float(np.linalg.norm((f.keypoints[1] + f.keypoints[2] - f.keypoints[7] - f.keypoints[8]) / 2))
            if size < 40:
                continue
            for side, v in _limb_signs(gray, f.keypoints, owner, i, size).items():
                orig[side] += v
            kp_m = f.keypoints.copy()
            kp_m[:, 0] = w - 1 - kp_m[:, 0]
            for side, v in _limb_signs(gray[:, ::-1], kp_m[flip_index], owner[:, ::-1], i, size).items():
                mirrored[side] += v
    for signs in (orig, mirrored):
        left, right = np.array(signs["left"]), np.array(signs["right"])
        assert len(left) >= 20 and len(right) >= 20
        assert (left > 0).mean() > 0.9 and (right < 0).mean() > 0.9


def test_facing_decides_which_side_of_the_image_the_left_shoulder_is_on(val):
    n = 0
    for a in val["annotations"]:
        kp = np.array(a["keypoints"], float).reshape(-1, 3)
        if kp[1, 2] > 0 and kp[2, 2] > 0:
            left_on_image_right = kp[1, 0] > kp[2, 0]
            assert left_on_image_right == (a["facing"] == "front")
            n += 1
    assert n > 10


def test_generation_is_fast(tmp_path):
    import time

    t0 = time.perf_counter()
    generate.generate(tmp_path, splits={"train": 0, "val": 10})
    assert time.perf_counter() - t0 < 10  # ~0.1 s/image on a busy 2-core CPU; the full val split takes seconds


def test_the_checkout_command_and_the_package_default_root(tmp_path, repo_root):
    """`python -m harness.demo.generate` (the noxfile's command) writes what harness.demo.generate.generate writes;
    without --root it writes the data root's demo/ ($HRNET_ZOO_DATA), never beside the installed code."""
    env = {**os.environ, "HRNET_ZOO_DATA": str(tmp_path / "data")}
    argv = [sys.executable, "-m", "harness.demo.generate", "--train", "0", "--val", "3"]
    res = subprocess.run(argv, cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ran = json.loads((tmp_path / "data" / "demo" / "manifest.json").read_text())
    direct = generate.generate(tmp_path / "direct", splits={"train": 0, "val": 3})
    assert ran["files"] == direct["files"] and f"content_sha256 {direct['content_sha256']}" in res.stdout
