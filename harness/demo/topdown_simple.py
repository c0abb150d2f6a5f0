"""Small, self-contained top-down crop / target / flip / decode / score code for the demo's training loop.

It follows PROTOCOLS.md §3 (centre/scale, crop, flip test with the one-column shift, 'default' decode, rescoring)
closely enough to track progress during training. The numbers of record come from the harness's evaluate path; this
module only exists so that harness/demo/train.py and tests/demo do not depend on modules other engineers are still
changing.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch

PIXEL_STD = 200.0
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_split(root: Path, split: str) -> tuple[dict, list[dict], dict[int, np.ndarray]]:
    """COCO dict, GT instances (num_keypoints > 0) and decoded RGB images [H, W, 3] uint8 by image id."""
    coco = json.loads((Path(root) / "annotations" / f"{split}.json").read_text())
    images = {}
    for im in coco["images"]:
        bgr = cv2.imread(str(Path(root) / "images" / split / im["file_name"]), cv2.IMREAD_COLOR)
        images[im["id"]] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # PROTOCOLS.md §2.3: RGB
    insts = [a for a in coco["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    return coco, insts, images


def center_scale(bbox, *, input_size: tuple[int, int], padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """PROTOCOLS.md §3: bbox (x, y, w, h) -> center, scale (/200, aspect-fixed, padded), float32."""
    x, y, w, h = bbox
    center = np.array([x + w / 2, y + h / 2], np.float32)
    aspect = input_size[1] / input_size[0]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w / PIXEL_STD * padding, h / PIXEL_STD * padding], np.float32)


def affine(center, scale_w: float, *, rot_deg: float, input_size: tuple[int, int]) -> np.ndarray:
    """2x3 image -> crop matrix: centre to (W/2, H/2), zoom W / (scale_w * 200), rotation rot_deg (anticlockwise)."""
    h, w = input_size
    k = w / (scale_w * PIXEL_STD)
    a = math.radians(rot_deg)
    c, s = math.cos(a) * k, math.sin(a) * k
    cx, cy = float(center[0]), float(center[1])
    return np.array([[c, s, w / 2 - c * cx - s * cy], [-s, c, h / 2 + s * cx - c * cy]], np.float64)


def normalize(crops: np.ndarray) -> torch.Tensor:
    """crops [N, H, W, 3] uint8 RGB -> [N, 3, H, W] float32 normalised (PROTOCOLS.md §2.3)."""
    x = (crops.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def flip_back(heatmaps: np.ndarray, flip_index: list[int], *, shift: bool = True) -> np.ndarray:
    """PROTOCOLS.md §3: swap pairs, mirror along width, then shift one column right (column 0 kept)."""
    out = heatmaps[:, flip_index, :, ::-1].copy()
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return out


def decode(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """PROTOCOLS.md §3 'default' decode. heatmaps [N, K, Hh, Wh] -> [N, K, 3] (x, y, maxval) in image pixels."""
    n, k, hh, wh = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    idx = flat.argmax(-1)
    maxval = flat.max(-1)
    px, py = (idx % wh).astype(np.float32), (idx // wh).astype(np.float32)
    for i in range(n):
        for j in range(k):
            x, y = int(px[i, j]), int(py[i, j])
            if 1 < x < wh - 1 and 1 < y < hh - 1:
                hm = heatmaps[i, j]
                px[i, j] += 0.25 * np.sign(hm[y, x + 1] - hm[y, x - 1])
                py[i, j] += 0.25 * np.sign(hm[y + 1, x] - hm[y - 1, x])
    neg = maxval <= 0
    px[neg], py[neg] = -1, -1
    size = scales * PIXEL_STD  # [N, 2]
    x_img = px * size[:, None, 0] / wh + centers[:, None, 0] - size[:, None, 0] / 2
    y_img = py * size[:, None, 1] / hh + centers[:, None, 1] - size[:, None, 1] / 2
    return np.stack([x_img, y_img, maxval], -1).astype(np.float32)


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    insts: list[dict],
    images: dict[int, np.ndarray],
    *,
    input_size: tuple[int, int],
    flip_index: list[int] | None,
    batch: int = 32,
) -> list[dict]:
    """GT-box top-down predictions as COCO results (rescored: mean maxval > 0.2, PROTOCOLS.md §3); no OKS-NMS.

    flip_index None disables the flip test.
    """
    model.eval()
    h, w = input_size
    results = []
    for b in range(0, len(insts), batch):
        chunk = insts[b : b + batch]
        cs = [center_scale(a["bbox"], input_size=input_size) for a in chunk]
        crops = np.stack(
            [
                cv2.warpAffine(
                    images[a["image_id"]], affine(c, s[0], rot_deg=0, input_size=input_size), (w, h), flags=1
                )
                for a, (c, s) in zip(chunk, cs, strict=True)
            ]
        )
        x = normalize(crops)
        hm = model(x).numpy()
        if flip_index is not None:
            hm = (hm + flip_back(model(x.flip(3)).numpy(), flip_index)) / 2
        kp = decode(hm, np.stack([c for c, _ in cs]), np.stack([s for _, s in cs]))
        for a, k in zip(chunk, kp, strict=True):
            good = k[:, 2] > 0.2
            score = float(k[good, 2].mean()) if good.any() else 0.0
            results.append(
                {"image_id": a["image_id"], "category_id": 1, "keypoints": k.reshape(-1).tolist(), "score": score}
            )
    return results


def coco_ap(coco_gt: dict, results: list[dict], sigmas) -> dict[str, float]:
    """xtcocotools COCOeval (keypoints, use_area True), quiet; the five README metrics."""
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(coco_gt))
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints", np.array(sigmas), use_area=True)
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"AP": float(s[0]), "AP50": float(s[1]), "AP75": float(s[2]), "AR": float(s[5]), "AR50": float(s[6])}
