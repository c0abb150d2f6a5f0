"""Deterministic, COCO-val-sized synthetic inputs for the scoring benchmark (no real data needed).

`make_ground_truth` writes a COCO-style person-keypoint annotation dict shaped like person_keypoints_val2017.json
(5000 images, about half without people, ~6.5k person annotations with 17 joints, visibility flags 0/1/2, integer
joint coordinates, `area` below the bbox area, ~20 % annotations without labelled joints, a few crowds, tiny people
below 32^2 so the medium/large ranges both matter). `make_topdown_outputs` derives from it the raw per-box output of a
top-down model run on AP_H_56-like detections (~104k boxes, many with low detector scores): keypoints [N, K, 3]
(x, y, maxval) float32, centers/scales from the padded boxes (PROTOCOLS.md §3), padded areas, detector scores, a
global running bbox_id, image ids. True positives are GT joints plus noise (several boxes per person, so OKS-NMS
has work to do), false positives are template poses in random boxes.

Everything comes from one seed (numpy Generator); `size="small"` gives a proportional few-image set for tests.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from harness.topdown.boxes import bbox_to_center_scale, padded_box_area
from harness.topdown.output import TopdownOutput

#: COCO keypoint order (PROTOCOLS.md §5) and a standing pose in unit-box coordinates (x, y in [0, 1]).
COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089,
    0.089,
)  # fmt: skip
_TEMPLATE = np.array(
    [[.50, .08], [.53, .06], [.47, .06], [.57, .08], [.43, .08], [.66, .24], [.34, .24], [.74, .40], [.26, .40],
     [.78, .55], [.22, .55], [.61, .55], [.39, .55], [.61, .76], [.39, .76], [.61, .96], [.39, .96]]
)  # fmt: skip

#: COCO-val-like sizes; "small" keeps the proportions on 60 images (a fraction of a second).
SIZES = {"full": 5000, "small": 60}
#: Input size (H, W) and padding of the COCO HRNet top-down configs (PROTOCOLS.md §2).
INPUT_SIZE = (256, 192)
PADDING = 1.25


def _person(rng: np.random.Generator, width: int, height: int) -> dict[str, Any]:
    """One GT person: bbox inside the image, joints from the template with noise, visibility flags, area."""
    w = float(np.clip(rng.lognormal(np.log(70.0), 0.8), 8.0, width * 0.9))
    h = float(np.clip(w * rng.uniform(1.4, 3.0), 10.0, height * 0.95))
    x = float(rng.uniform(0, width - w))
    y = float(rng.uniform(0, height - h))
    pts = _TEMPLATE * [w, h] + [x, y] + rng.normal(0, 0.03, size=(17, 2)) * [w, h]
    kind = rng.random()
    if kind < 0.2:  # COCO has many person boxes without any labelled joint
        vis = np.zeros(17, dtype=np.int64)
    else:
        vis = np.where(rng.random(17) < rng.uniform(0.35, 1.0), rng.choice([1, 2], size=17, p=[0.3, 0.7]), 0)
    kp = np.zeros((17, 3), dtype=np.int64)
    kp[:, :2] = np.round(pts).astype(np.int64)
    kp[:, 2] = vis
    kp[vis == 0] = 0
    return {
        "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
        "area": round(w * h * float(rng.uniform(0.35, 0.75)), 4),
        "keypoints": kp.reshape(-1).tolist(),
        "num_keypoints": int(np.count_nonzero(vis)),
        "iscrowd": 0,
    }


def make_ground_truth(*, seed: int = 0, size: Literal["full", "small"] = "full") -> dict[str, Any]:
    """COCO-style person-keypoint annotations (dict, JSON-ready), deterministic in `seed`."""
    rng = np.random.default_rng([seed, 1])
    images, anns = [], []
    for i in range(SIZES[size]):
        image_id = 100000 + 7 * i  # sparse, like COCO's ids
        width, height = (640, 480) if rng.random() < 0.6 else (480, 640)
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": width, "height": height})
        if rng.random() < 0.46:  # images without people
            continue
        for _ in range(min(1 + rng.geometric(0.42) - 1, 20)):
            ann = _person(rng, width, height)
            if rng.random() < 0.012:  # crowd regions: big box, no joints
                ann.update(iscrowd=1, keypoints=[0] * 51, num_keypoints=0)
            anns.append({"id": 900000 + len(anns), "image_id": image_id, "category_id": 1, **ann})
    for a in anns:
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    category = {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO_KEYPOINTS),
        "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9]],
    }
    return {"info": {"description": f"synthetic COCO-val-like, seed {seed}"}, "images": images,
            "annotations": anns, "categories": [category]}  # fmt: skip


def _boxes_for_image(rng: np.random.Generator, persons: list[dict], width: int, height: int) -> list[tuple]:
    """(bbox xywh, detector score, pose [17, 2], maxvals [17]) per detection of one image."""
    dets = []
    for p in persons:
        if p["iscrowd"]:
            continue
        x, y, w, h = p["bbox"]
        kp = np.asarray(p["keypoints"], dtype=np.float64).reshape(17, 3)
        tmpl = _TEMPLATE * [w, h] + [x, y]
        gt_xy = np.where(kp[:, 2:3] > 0, kp[:, :2], tmpl)
        quality = rng.uniform(0.02, 0.25)
        base = gt_xy + rng.normal(0, quality, size=(17, 2)) * np.sqrt(w * h) * 0.3
        for dup in range(1 + rng.poisson(1.2)):
            jit = rng.normal(0, 0.05, size=4) * [w, h, w, h]
            box = (x + jit[0], y + jit[1], max(w + jit[2], 4.0), max(h + jit[3], 4.0))
            pose = base + rng.normal(0, 0.01 if dup else 0.0, size=(17, 2)) * [w, h]
            score = float(np.clip(rng.uniform(0.3, 1.0) - 0.15 * dup, 0.0, 1.0))
            dets.append((box, score, pose, rng.uniform(0.05, 0.95, size=17)))
    for _ in range(rng.poisson(18.0)):  # AP_H_56: many low-score boxes everywhere
        w = float(np.clip(rng.lognormal(np.log(50.0), 0.9), 4.0, width * 0.9))
        h = float(np.clip(w * rng.uniform(0.8, 3.0), 4.0, height * 0.95))
        x, y = float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h))
        pose = _TEMPLATE * [w, h] + [x, y] + rng.normal(0, 0.08, size=(17, 2)) * [w, h]
        dets.append(((x, y, w, h), float(rng.exponential(0.08)), pose, rng.uniform(0.0, 0.6, size=17)))
    return dets


def make_topdown_outputs(gt: dict[str, Any], *, seed: int = 0) -> TopdownOutput:
    """Raw top-down outputs (before rescoring/NMS) for every image of `gt`, in image order, bbox_id running."""
    rng = np.random.default_rng([seed, 2])
    by_image: dict[int, list[dict]] = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    boxes, scores, poses, maxvals, image_ids = [], [], [], [], []
    for img in gt["images"]:
        for box, score, pose, mv in _boxes_for_image(rng, by_image.get(img["id"], []), img["width"], img["height"]):
            boxes.append(box)
            scores.append(min(score, 1.0))
            poses.append(pose)
            maxvals.append(mv)
            image_ids.append(img["id"])
    n = len(boxes)
    centers, scales = bbox_to_center_scale(np.asarray(boxes).reshape(n, 4), input_size=INPUT_SIZE, padding=PADDING)
    keypoints = np.concatenate([np.asarray(poses).reshape(n, 17, 2), np.asarray(maxvals).reshape(n, 17, 1)], axis=2)
    return TopdownOutput(
        keypoints=keypoints.astype(np.float32),
        centers=centers,
        scales=scales,
        areas=padded_box_area(scales),
        bbox_scores=np.asarray(scores, dtype=np.float32),
        bbox_ids=np.arange(n, dtype=np.int64),
        image_ids=np.asarray(image_ids, dtype=np.int64),
    )


def save_outputs(path: Any, output: TopdownOutput) -> None:
    """The raw outputs as an .npz (one array per TopdownOutput field), the exchange format with the oracle."""
    np.savez(path, **{f: getattr(output, f) for f in output.__dataclass_fields__})
