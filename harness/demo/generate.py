"""Deterministic synthetic keypoint dataset for the offline demo entry ("demo" keypoint schema, K=13).

Each image holds 1-3 "gingerbread" figures on a cluttered background. Left and right are told apart by cues that are
*mirror-consistent*, as a person's left and right are: a horizontal flip of a valid image, with the flip pairs
swapped, is again a valid image. Per-side colours would not be (a mirrored red left arm would become a red *right*
arm, a combination the data never shows), so flip augmentation and flip test would fight the labels. Instead:

- limb texture is chiral: left limbs carry "/" stripes, right limbs "\\" stripes (stripes are laid out in image
  coordinates, so a mirror turns one into the other; rotations up to +-30 degrees keep them apart);
- the figure faces the camera (face drawn: left side on the image's right) or turns away (hair drawn: left side on
  the image's left), so the torso geometry plus the head also tell the sides apart.

Everything comes from one seeded `numpy.random.Generator` and integer-coordinate OpenCV primitives without
anti-aliasing (LINE_8), so the pixels are byte-for-byte reproducible; PNG keeps them lossless. Images are regenerated
on the fly (a few seconds) rather than shipped: the val split alone would be megabytes of PNG, and the manifest's
pixel digest (`python -m harness.demo.generate --root R` prints it) says whether a machine reproduced the same data.

Layout written under ROOT (the COCO-style layout of PROTOCOLS.md §5):
    annotations/{train,val}.json      COCO keypoints json (bbox xywh, area, iscrowd 0, num_keypoints, v in {0,1,2})
    images/{train,val}/NNNNNN.png     RGB content, written by OpenCV (BGR on disk order handled by cv2)
    manifest.json                     sha256 of every file + a digest of the decoded pixels and annotations
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from zoo import settings

#: Keypoint names, left before right as in COCO (PROTOCOLS.md §5 keypoint order convention).
KEYPOINTS = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12))
#: OKS sigmas: the COCO body values of the same joints; the head centre (a disc, less sharp than a nose) gets .060.
SIGMAS = (0.060, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)
SKELETON = ((1, 3), (3, 5), (2, 4), (4, 6), (7, 9), (9, 11), (8, 10), (10, 12))  # limbs only (0-based)
LEFT_LIMBS = ((1, 3), (3, 5), (7, 9), (9, 11))
RIGHT_LIMBS = ((2, 4), (4, 6), (8, 10), (10, 12))

DEFAULT_SPLITS = {"train": 800, "val": 80}
#: Each split has its own seed stream (seed, split index) so the val split does not depend on the train size.
SPLIT_INDEX = {"train": 0, "val": 1}
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


@dataclass(frozen=True)
class Figure:
    """One drawn instance: keypoints [K, 2] float64 image pixels, label mask, visibility before occlusion."""

    keypoints: np.ndarray
    facing_front: bool


def _color(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, size=3))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured clutter: a colour gradient, random shapes and a few thick lines (limb-like distractors)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = rng.uniform(40, 215, size=3).astype(np.float32)
    c1 = rng.uniform(40, 215, size=3).astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    t = (np.cos(ang) * xx / w + np.sin(ang) * yy / h + 1.0) / 2.0
    img = (c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]).astype(np.uint8)
    for _ in range(int(rng.integers(8, 20))):
        kind = int(rng.integers(0, 3))
        col = _color(rng, 20, 236)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(4, max(5, min(h, w) // 5)))
        if kind == 0:
            cv2.circle(img, (x, y), r, col, -1, cv2.LINE_8)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(4, r + 5))), col, -1, cv2.LINE_8)
        else:
            x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(img, (x, y), (x2, y2), col, int(rng.integers(1, 6)), cv2.LINE_8)
    noise = rng.integers(-12, 13, size=(h, w, 1), dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _rot(v: np.ndarray, ang: float) -> np.ndarray:
    c, s = math.cos(ang), math.sin(ang)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _pose(rng: np.random.Generator, *, cx: float, cy: float, size: float, front: bool) -> np.ndarray:
    """Joint positions [K, 2] of a figure whose torso (neck to pelvis) is `size` pixels, centred on (cx, cy).

    Front-facing: the figure's left is on the image's right (+x); facing away: on the image's left.
    """
    side = 1.0 if front else -1.0  # image-x direction of the figure's LEFT side
    tilt = rng.uniform(-0.45, 0.45)  # whole-body rotation (radians), up to ~26 degrees
    kp = np.zeros((13, 2))
    half_sh, half_hip = size * rng.uniform(0.30, 0.40), size * rng.uniform(0.20, 0.27)
    neck, pelvis = np.array([0.0, -size / 2]), np.array([0.0, size / 2])
    kp[0] = neck + np.array([0.0, -size * 0.38])
    kp[1], kp[2] = neck + [side * half_sh, 0.0], neck + [-side * half_sh, 0.0]
    kp[7], kp[8] = pelvis + [side * half_hip, 0.0], pelvis + [-side * half_hip, 0.0]
    down = np.array([0.0, 1.0])
    for sh, el, wr, sgn in ((1, 3, 5, side), (2, 4, 6, -side)):
        a1 = sgn * rng.uniform(-0.3, 2.6)  # 0 = arm hanging down, pi/2 = horizontal outwards
        a2 = a1 + sgn * rng.uniform(-1.6, 1.6)
        kp[el] = kp[sh] + size * rng.uniform(0.50, 0.60) * _rot(down, -a1)
        kp[wr] = kp[el] + size * rng.uniform(0.45, 0.55) * _rot(down, -a2)
    for hip, kn, an, sgn in ((7, 9, 11, side), (8, 10, 12, -side)):
        a1 = sgn * rng.uniform(-0.25, 0.9)
        a2 = a1 + rng.uniform(-0.9, 0.9)
        kp[kn] = kp[hip] + size * rng.uniform(0.55, 0.65) * _rot(down, -a1)
        kp[an] = kp[kn] + size * rng.uniform(0.50, 0.60) * _rot(down, -a2)
    kp = np.stack([_rot(p, tilt) for p in kp])
    return np.rint(kp + [cx, cy])  # integer pixels: what is drawn is exactly what is labelled


def _stripes(h: int, w: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean stripe masks [H, W]: "/" (constant x+y, rising to the right with y down) and "\\" (constant x-y)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx + yy) // period) % 2 == 0, ((xx - yy + 10 * (h + w)) // period) % 2 == 0


def _draw_figure(
    rng: np.random.Generator,
    img: np.ndarray,
    owner: np.ndarray,
    label: int,
    kp: np.ndarray,
    *,
    size: float,
    front: bool,
) -> None:
    """Draw one figure into img (in place) and mark its pixels with `label` in owner [H, W] int16."""
    h, w = owner.shape
    thick = max(3, int(round(size * rng.uniform(0.18, 0.24))))
    pts = kp.astype(np.int32)
    body_col, limb_col, stripe_col = _color(rng, 30, 226), _color(rng, 30, 226), _color(rng, 0, 256)
    mask = np.zeros((h, w), np.uint8)
    torso = np.array([pts[1], pts[2], pts[8], pts[7]], np.int32)
    cv2.fillPoly(mask, [torso], 1, cv2.LINE_8)
    body_mask = mask.copy()
    period = max(2, int(round(thick / 3)))
    slash, backslash = _stripes(h, w, period)
    limb_layers = []
    for limbs, pattern in ((LEFT_LIMBS, slash), (RIGHT_LIMBS, backslash)):
        lm = np.zeros((h, w), np.uint8)
        for a, b in limbs:
            cv2.line(lm, tuple(pts[a]), tuple(pts[b]), 1, thick, cv2.LINE_8)
        for j in (limbs[1][1], limbs[3][1]):  # round hands and feet
            cv2.circle(lm, tuple(pts[j]), max(2, thick // 2 + 1), 1, -1, cv2.LINE_8)
        limb_layers.append((lm.astype(bool), pattern))
    head_r = max(3, int(round(size * 0.22)))
    hm = np.zeros((h, w), np.uint8)
    cv2.circle(hm, tuple(pts[0]), head_r, 1, -1, cv2.LINE_8)
    # Paint order: torso, limbs, head (limbs over torso so crossing arms stay visible).
    img[body_mask.astype(bool)] = body_col
    for lm, pattern in limb_layers:
        img[lm & pattern] = limb_col
        img[lm & ~pattern] = stripe_col
    img[hm.astype(bool)] = body_col
    hx, hy = int(pts[0][0]), int(pts[0][1])
    e = max(1, head_r // 3)
    if front:  # face: two eyes and a mouth (left-right symmetric, so a mirror keeps it a face)
        cv2.circle(img, (hx - e, hy - e // 2), max(1, head_r // 6), (20, 20, 20), -1, cv2.LINE_8)
        cv2.circle(img, (hx + e, hy - e // 2), max(1, head_r // 6), (20, 20, 20), -1, cv2.LINE_8)
        cv2.line(img, (hx - e, hy + e), (hx + e, hy + e), (20, 20, 20), max(1, head_r // 8), cv2.LINE_8)
    else:  # back of the head: hair cap
        cv2.ellipse(img, (hx, hy), (head_r, head_r), 0, 180, 360, (25, 20, 15), -1, cv2.LINE_8)
        cv2.circle(img, (hx, hy), max(1, head_r // 2), (25, 20, 15), -1, cv2.LINE_8)
    full = body_mask.astype(bool) | hm.astype(bool) | limb_layers[0][0] | limb_layers[1][0]
    owner[full] = label


def _occluder(rng: np.random.Generator, img: np.ndarray, owner: np.ndarray, near: np.ndarray) -> None:
    """A textured box or disc placed near a joint (partial occlusion); its pixels belong to nobody (-1)."""
    h, w = owner.shape
    cx, cy = int(near[0] + rng.integers(-10, 11)), int(near[1] + rng.integers(-10, 11))
    r = int(rng.integers(6, 20))
    m = np.zeros((h, w), np.uint8)
    if rng.random() < 0.5:
        cv2.rectangle(m, (cx - r, cy - r), (cx + r, cy + int(rng.integers(4, 2 * r))), 1, -1, cv2.LINE_8)
    else:
        cv2.circle(m, (cx, cy), r, 1, -1, cv2.LINE_8)
    sel = m.astype(bool)
    checker = ((np.mgrid[0:h, 0:w].sum(axis=0) // 3) % 2 == 0)[sel]
    img[sel] = np.where(checker[:, None], _color(rng, 0, 256), _color(rng, 0, 256))
    owner[sel] = -1


def render_image(rng: np.random.Generator) -> tuple[np.ndarray, list[Figure], np.ndarray]:
    """One image: RGB uint8 [H, W, 3], its figures and the owner map [H, W] (figure index, -1 background)."""
    h, w = int(rng.integers(20, 33)) * 8, int(rng.integers(24, 41)) * 8
    img = _background(rng, h, w)
    owner = np.full((h, w), -1, np.int16)
    figures: list[Figure] = []
    centres: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(1, 4))):
        for _try in range(10):  # place with limited overlap; deterministic rejection sampling
            size = rng.uniform(0.13, 0.30) * h
            cx, cy = rng.uniform(-0.05, 1.05) * w, rng.uniform(0.15, 0.85) * h
            if all(abs(cx - x) > 0.6 * (size + s) or abs(cy - y) > 1.2 * (size + s) for x, y, s in centres):
                break
        else:
            continue
        centres.append((cx, cy, size))
        front = bool(rng.random() < 0.5)
        kp = _pose(rng, cx=cx, cy=cy, size=size, front=front)
        _draw_figure(rng, img, owner, len(figures), kp, size=size, front=front)
        figures.append(Figure(keypoints=kp, facing_front=front))
    for f in figures:
        if rng.random() < 0.35:
            _occluder(rng, img, owner, f.keypoints[int(rng.integers(0, 13))])
    return img, figures, owner


def _annotations(figures: list[Figure], owner: np.ndarray, *, image_id: int, next_id: int) -> list[dict]:
    """COCO keypoint annotations; joints outside the image are v=0 at (0, 0), covered ones v=1, others v=2."""
    h, w = owner.shape
    anns = []
    for i, f in enumerate(figures):
        kps: list[float] = []
        n = 0
        for x, y in f.keypoints:
            if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
                kps += [0.0, 0.0, 0]
                continue
            v = 2 if owner[int(y), int(x)] == i else 1
            kps += [float(x), float(y), v]
            n += 1
        ys, xs = np.nonzero(owner == i)
        if n == 0 or len(xs) == 0:
            continue
        x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        anns.append(
            {
                "id": next_id + len(anns),
                "image_id": image_id,
                "category_id": 1,
                "keypoints": kps,
                "num_keypoints": n,
                "bbox": [float(x1), float(y1), float(x2 - x1 + 1), float(y2 - y1 + 1)],
                "area": float(len(xs)),  # visible silhouette pixels, as COCO's segmentation area
                "iscrowd": 0,
                "facing": "front" if f.facing_front else "back",
            }
        )
    return anns


def generate_split(root: Path, split: str, n_images: int, *, seed: int = 0) -> dict:
    """Write images/<split>/*.png and annotations/<split>.json under root; return the COCO dict."""
    rng = np.random.Generator(np.random.PCG64([seed, SPLIT_INDEX[split]]))
    img_dir = root / "images" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for k in range(n_images):
        img, figures, owner = render_image(rng)
        name = f"{k:06d}.png"
        if not cv2.imwrite(str(img_dir / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), PNG_PARAMS):
            raise OSError(f"could not write {img_dir / name}: check that the folder is writable")
        images.append({"id": k + 1, "file_name": name, "height": img.shape[0], "width": img.shape[1]})
        anns += _annotations(figures, owner, image_id=k + 1, next_id=len(anns) + 1)
    coco = {
        "info": {"description": f"hrnet-zoo demo synthetic keypoints, split {split}, seed {seed}"},
        "images": images,
        "annotations": anns,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(KEYPOINTS),
                "skeleton": [[a + 1, b + 1] for a, b in SKELETON],  # COCO skeletons are 1-based
            }
        ],
    }
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"{split}.json").write_text(json.dumps(coco, separators=(",", ":")))
    return coco


def manifest(root: Path) -> dict:
    """sha256 of every file under root (except the manifest) and one digest over annotations + decoded pixels.

    The pixel digest is what matters across machines: PNG bytes depend on the zlib build, decoded pixels do not.
    """
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")
    sums = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    digest = hashlib.sha256()
    for p in files:
        rel = p.relative_to(root).as_posix()
        digest.update(rel.encode())
        data = p.read_bytes() if p.suffix == ".json" else cv2.imread(str(p), cv2.IMREAD_COLOR).tobytes()
        digest.update(data)
    return {"content_sha256": digest.hexdigest(), "files": sums}


def generate(root: Path, *, seed: int = 0, splits: dict[str, int] | None = None) -> dict:
    """Generate every split under root and write root/manifest.json; return the manifest."""
    root = Path(root)
    for split, n in (splits or DEFAULT_SPLITS).items():
        generate_split(root, split, n, seed=seed)
    man = manifest(root)
    (root / "manifest.json").write_text(json.dumps(man, indent=1, sort_keys=True))
    return man


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Default: where `reproduce --dataset demo` looks (the data root's demo/), never beside this file: installed,
    # that would be site-packages.
    ap.add_argument("--root", type=Path, default=None, help="default: $HRNET_ZOO_DATA/demo, else ./data/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=DEFAULT_SPLITS["train"], help="number of train images")
    ap.add_argument("--val", type=int, default=DEFAULT_SPLITS["val"], help="number of val images")
    args = ap.parse_args(argv)
    root = args.root or settings.data_root() / "demo"
    t0 = time.perf_counter()
    man = generate(root, seed=args.seed, splits={"train": args.train, "val": args.val})
    print(f"wrote {len(man['files'])} files under {root} in {time.perf_counter() - t0:.1f}s")
    print(f"content_sha256 {man['content_sha256']}")


if __name__ == "__main__":
    main()
