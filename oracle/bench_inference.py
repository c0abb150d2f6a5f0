"""Time MMPose 0.29's own inference (`single_gpu_test`) on given data (inside the oracle venv).

    bench_inference.py --config C --checkpoint F --ann-file A --img-prefix DIR [--bbox-file B]
                       [--test-scale-factor 2,1,0.5] --threads T --repeat N --out DIR

Builds the config's test dataset on the given annotation file (and detection boxes for a top-down config), the
data loader (batch: the config's samples_per_gpu for top-down, 1 image for bottom-up; workers 0, so decoding and the
test pipeline run in the timed loop, as `tools/test.py` does on one process), the model with the checkpoint (strict),
wrapped in `MMDataParallel` on the CPU (docs/PARITY.md), then times `single_gpu_test(model, loader)` N times with
`torch.set_num_threads(T)` (flip test as the config says). Model building and checkpoint loading are not timed.
Writes DIR/bench.json {seconds: [...], threads, num_samples, versions, ...} and DIR/outputs.npz from the last run:
top-down `keypoints` [N, K, 3] and `bbox_ids` [N]; bottom-up `persons_per_image` [I] and `image_files`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

import _common
import numpy as np
from evaluate import _parse_scales


def _configure(cfg, args) -> bool:
    ds = cfg.data.test
    ds.ann_file = str(args.ann_file.resolve())
    ds.img_prefix = str(args.img_prefix.resolve()) + "/"
    bottomup = cfg.model.type == "AssociativeEmbedding"
    if not bottomup:
        if args.bbox_file is None:
            raise _common.OracleScriptError("a top-down config needs --bbox-file (detection boxes)")
        ds.data_cfg.use_gt_bbox = False
        ds.data_cfg.bbox_file = str(args.bbox_file.resolve())
    elif args.test_scale_factor is not None:
        for step in ds.pipeline:  # PROTOCOLS.md §2.3: the only step that reads the test scales
            if step["type"] == "BottomUpGetImgSize":
                step["test_scale_factor"] = args.test_scale_factor
    return bottomup


def _outputs(outputs: list[dict], bottomup: bool) -> dict[str, np.ndarray]:
    if bottomup:
        return {
            "persons_per_image": np.array([len(r["preds"]) for r in outputs], dtype=np.int64),
            "image_files": np.array([r["image_paths"][0] for r in outputs]),
        }
    return {
        "keypoints": np.concatenate([b["preds"] for b in outputs]).astype(np.float32),
        "bbox_ids": np.concatenate([np.asarray(b["bbox_ids"], dtype=np.int64) for b in outputs]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--ann-file", required=True, type=Path)
    ap.add_argument("--img-prefix", required=True, type=Path)
    ap.add_argument("--bbox-file", type=Path, help="detections (COCO results format) for a top-down config")
    ap.add_argument("--test-scale-factor", type=_parse_scales, help="bottom-up test scales, e.g. 2,1,0.5")
    ap.add_argument("--threads", type=int, required=True, help="torch intra-op threads (recorded)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()

    import torch
    from mmcv.parallel import MMDataParallel
    from mmpose.apis import single_gpu_test
    from mmpose.datasets import build_dataloader, build_dataset

    torch.set_num_threads(args.threads)
    cfg = _common.load_config(args.config)
    bottomup = _configure(cfg, args)
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    batch = 1 if bottomup else cfg.data.get("test_dataloader", {}).get("samples_per_gpu", 32)
    loader = build_dataloader(dataset, samples_per_gpu=batch, workers_per_gpu=0, dist=False, shuffle=False,
                              drop_last=False, pin_memory=False)  # fmt: skip
    model = _common.build_model(cfg)
    _common.load_strict(model, args.checkpoint)
    model = MMDataParallel(model)
    torch.set_grad_enabled(False)
    seconds, outputs = [], []
    for _ in range(args.repeat):
        with contextlib.redirect_stdout(io.StringIO()):  # single_gpu_test draws a progress bar
            t0 = time.perf_counter()
            outputs = single_gpu_test(model, loader)
            seconds.append(time.perf_counter() - t0)
    arrays = _outputs(outputs, bottomup)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "outputs.npz", **arrays)
    _common.write_json(
        args.out / "bench.json",
        {
            "seconds": seconds,
            "threads": torch.get_num_threads(),
            "num_samples": len(dataset),
            "batch_size": batch,
            "flip_test": bool(cfg.model.test_cfg.get("flip_test", True)),
            "config": args.config,
            "versions": _common.versions(),
        },
    )
    return 0


if __name__ == "__main__":
    _common.run_main(main)
