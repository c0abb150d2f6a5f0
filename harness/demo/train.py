"""Train the demo entry: a width-8 top-down HRNet (harness.models, the same code as the zoo's W32/W48) on the
synthetic dataset of harness/demo/generate.py, and save it in MMPose's checkpoint format and publish naming.

    python -m harness.demo.generate --root demo/data --val 80
    python -m harness.demo.train --data demo/data --iters 700 --out demo/checkpoints

Training crops use the evaluation's own geometry (harness.topdown: center/scale with padding 1.25, the 3-point
affine, PROTOCOLS.md §3) plus random scale, rotation and horizontal flip (flip pairs swapped); targets are Gaussian
heatmaps (sigma 2 at stride 4) with an MSE loss weighted by visibility, as MMPose's top-down recipe. Everything is
seeded and the iteration count is fixed, so the same command on the same machine and thread count gives the same
weights; across machines float rounding differs, which is why the weights are shipped (demo/checkpoints/) and the
documented numbers are measured from the shipped file (`python -m harness.demo.document`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from harness.models.posenet import build_model
from harness.topdown.boxes import bbox_to_center_scale
from harness.topdown.crop import affine_matrix, normalize_crops
from zoo.registry.schema import Architecture

INPUT_HW = (128, 96)
HEATMAP_HW = (32, 24)
WIDTH = 8
NAME = "hrnet_w8_demo_128x96"
SIGMA = 2.0


def demo_architecture() -> Architecture:
    from harness.demo.generate import KEYPOINTS

    return Architecture("hrnet", WIDTH, "heatmap", INPUT_HW, (HEATMAP_HW,), len(KEYPOINTS), "demo")


def load_instances(root: Path, split: str) -> tuple[list[np.ndarray], list[tuple[int, np.ndarray, np.ndarray]]]:
    """Decoded RGB images and (image index, bbox xywh, keypoints [K, 3]) of every labelled instance."""
    ann = json.loads((root / "annotations" / f"{split}.json").read_text())
    index = {img["id"]: i for i, img in enumerate(ann["images"])}
    images = [
        cv2.cvtColor(cv2.imread(str(root / "images" / split / img["file_name"])), cv2.COLOR_BGR2RGB)
        for img in ann["images"]
    ]
    inst = [
        (index[a["image_id"]], np.array(a["bbox"], np.float64), np.array(a["keypoints"], np.float32).reshape(-1, 3))
        for a in ann["annotations"]
        if a.get("num_keypoints", 0) > 0
    ]
    return images, inst


def _augmented_matrix(rng: np.random.Generator, bbox: np.ndarray) -> np.ndarray:
    center, scale = bbox_to_center_scale(bbox[None], input_size=INPUT_HW, padding=1.25)
    s = float(np.clip(rng.normal(1.0, 0.15), 0.7, 1.35))
    m = np.vstack([affine_matrix(center[0], scale[0] * s, output_size=INPUT_HW), [0, 0, 1]])
    angle = float(np.clip(rng.normal(0.0, 15.0), -30, 30)) if rng.random() < 0.6 else 0.0
    h, w = INPUT_HW
    rot = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), [0, 0, 1]])
    return (rot @ m)[:2]


def _targets(kpts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps [K, h, w] at stride 4 and per-joint weights [K] (visible and inside the heatmap)."""
    h, w = HEATMAP_HW
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    hm = np.zeros((len(kpts), h, w), np.float32)
    weight = np.zeros(len(kpts), np.float32)
    for k, (x, y, v) in enumerate(kpts):
        mx, my = x / 4.0, y / 4.0
        if v <= 0 or not (-3 <= mx < w + 3 and -3 <= my < h + 3):
            continue
        hm[k] = np.exp(-((xs - mx) ** 2 + (ys - my) ** 2) / (2 * SIGMA**2))
        weight[k] = 1.0
    return hm, weight


def make_batch(rng, images, instances, flip_pairs, batch_size: int):
    idx = rng.integers(0, len(instances), batch_size)
    crops, hms, weights = [], [], []
    h, w = INPUT_HW
    for i in idx:
        img_i, bbox, kpts = instances[i]
        m = _augmented_matrix(rng, bbox)
        crop = cv2.warpAffine(images[img_i], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        pts = kpts.copy()
        pts[:, :2] = pts[:, :2] @ m[:, :2].T + m[:, 2]
        if rng.random() < 0.5:  # horizontal flip of the crop: mirror x, swap left/right joints
            crop = crop[:, ::-1]
            pts[:, 0] = (w - 1) - pts[:, 0]
            for a, b in flip_pairs:
                pts[[a, b]] = pts[[b, a]]
        hm, wt = _targets(pts)
        crops.append(np.ascontiguousarray(crop))
        hms.append(hm)
        weights.append(wt)
    x = normalize_crops(torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2))
    return x, torch.from_numpy(np.stack(hms)), torch.from_numpy(np.stack(weights))


def train(
    data: Path,
    *,
    iters: int,
    batch_size: int,
    lr: float,
    seed: int,
    log: list,
    init: Path | None = None,
    log_every: int = 25,
) -> torch.nn.Module:
    from harness.demo.generate import FLIP_PAIRS

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, instances = load_instances(data, "train")
    model = build_model(demo_architecture())
    if init is not None:  # continue from an earlier run's weights (loaded safely and strictly)
        from harness.checkpoints.safe_load import load_checkpoint
        from harness.checkpoints.strict import load_state_dict_strict

        load_state_dict_strict(model, load_checkpoint(init).state_dict)
    else:
        # MMPose's TopdownHeatmapSimpleHead.init_weights: final layer normal(std=0.001), bias 0. With PyTorch's default
        # conv init the first iterations only shrink large random heatmaps (loss ~1 instead of ~0.01).
        torch.nn.init.normal_(model.keypoint_head.final_layer.weight, std=0.001)
        torch.nn.init.zeros_(model.keypoint_head.final_layer.bias)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=iters, pct_start=0.1)
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        x, target, weight = make_batch(rng, images, instances, FLIP_PAIRS, batch_size)
        out = model(x)
        w = weight[:, :, None, None]
        loss = 0.5 * ((out * w - target * w) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if it % log_every == 0 or it == iters:
            log.append(
                {
                    "iter": it,
                    "loss": loss.item(),
                    "lr": sched.get_last_lr()[0],
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
            print(
                f"iter {it}/{iters} loss {loss.item():.6f} lr {sched.get_last_lr()[0]:.2e} "
                f"{time.perf_counter() - t0:.0f}s",
                flush=True,
            )
    return model.eval()


def save_published(model: torch.nn.Module, out_dir: Path, *, meta: dict) -> Path:
    """torch.save {'state_dict', 'meta'} and rename to `<name>-<sha256[:8]>_<date>.pth` (PROTOCOLS.md §6)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"{NAME}.tmp.pth"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, tmp)
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = out_dir / f"{NAME}-{sha[:8]}_{meta['date']}.pth"
    tmp.replace(final)
    return final


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the demo entry's width-8 HRNet on the synthetic dataset.")
    ap.add_argument(
        "--data", type=Path, default=Path("demo/data"), help="root written by `python -m harness.demo.generate`"
    )
    ap.add_argument("--out", type=Path, default=Path("demo/checkpoints"))
    ap.add_argument("--iters", type=int, default=700)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (results depend on it); on a shared 2-core machine 1 thread ran ~3x faster than 2",
    )
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (an earlier demo checkpoint)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    log: list[dict] = []
    model = train(
        args.data, iters=args.iters, batch_size=args.batch_size, lr=args.lr, seed=args.seed, log=log, init=args.init
    )
    meta = {
        "date": dt.date.today().strftime("%Y%m%d"),
        "command": "python -m harness.demo.train " + " ".join(argv or __import__("sys").argv[1:]),
        "init": args.init.name if args.init else None,
        "iters": args.iters,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "threads": args.threads,
        "torch": str(torch.__version__),  # a TorchVersion object would not pass the safe loader
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    path = save_published(model, args.out, meta=meta)
    # The log sits beside the checkpoint under MMPose's naming, `<name>_<date>.log.json` (PROTOCOLS.md §9).
    (args.out / f"{NAME}_{meta['date']}.log.json").write_text(json.dumps({"meta": meta, "log": log}, indent=1) + "\n")
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
