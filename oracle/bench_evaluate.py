"""Time MMPose 0.29's `TopDownCocoDataset.evaluate()` on given raw top-down outputs (inside the oracle venv).

    bench_evaluate.py --ann-file GT.json --outputs RAW.npz --out DIR [--repeat N] [--config C]

Builds the config's test dataset (default: the COCO HRNet-W32 256x192 config, which reads sigmas, vis_thr 0.2,
oks_thr 0.9, use_nms from its data_cfg) on the given annotation file, turns RAW.npz (arrays keypoints [N, K, 3],
centers, scales, areas, bbox_scores, bbox_ids, image_ids, as benchmarks/synthetic.py writes them) into the outputs
`single_gpu_test` would give (batches of 32 dicts: 'preds' [n, K, 3] float32, 'boxes' [n, 6] float32 = c_x, c_y, s_w,
s_h, area, score, 'image_paths' img_prefix + file_name, 'bbox_ids'), and times `dataset.evaluate(outputs,
res_folder=DIR, metric='mAP')` alone (rescoring, OKS-NMS, json_tricks writing, xtcocotools COCOeval), N times.
Writes DIR/bench.json {metrics, seconds: [...], num_instances, versions} and leaves MMPose's own
DIR/result_keypoints.json (from the last run) for the caller to compare with its results.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import _common
import numpy as np

DEFAULT_CONFIG = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/hrnet_w32_coco_256x192.py"
BATCH = 32  # the config's samples_per_gpu; evaluate() only iterates over the batches


def mmpose_outputs(raw: dict[str, np.ndarray], paths: dict[int, str]) -> list[dict]:
    """The raw arrays as single_gpu_test's per-batch result dicts (PROTOCOLS.md §3 box record)."""
    n = len(raw["image_ids"])
    boxes = np.zeros((n, 6), dtype=np.float32)
    boxes[:, 0:2] = raw["centers"]
    boxes[:, 2:4] = raw["scales"]
    boxes[:, 4] = raw["areas"]
    boxes[:, 5] = raw["bbox_scores"]
    preds = raw["keypoints"].astype(np.float32)
    out = []
    for s in range(0, n, BATCH):
        sl = slice(s, min(s + BATCH, n))
        out.append(
            {
                "preds": preds[sl].copy(),
                "boxes": boxes[sl].copy(),
                "image_paths": [paths[int(i)] for i in raw["image_ids"][sl]],
                "bbox_ids": [int(b) for b in raw["bbox_ids"][sl]],
            }
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ann-file", required=True, type=Path)
    ap.add_argument("--outputs", required=True, type=Path, help=".npz of raw top-down outputs")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--config", default=DEFAULT_CONFIG)
    args = ap.parse_args()

    from mmpose.datasets import build_dataset

    cfg = _common.load_config(args.config)
    ds = cfg.data.test
    ds.ann_file = str(args.ann_file.resolve())
    ds.img_prefix = str(args.out.resolve() / "images") + "/"  # never read: evaluate() only maps paths to ids
    ds.data_cfg.use_gt_bbox = True  # the box source only matters for loading samples, which evaluate() never does
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = build_dataset(ds, dict(test_mode=True))
    with np.load(args.outputs) as f:
        raw = {k: f[k] for k in f.files}
    paths = {img_id: ds.img_prefix + name for name, img_id in dataset.name2id.items()}
    outputs = mmpose_outputs(raw, paths)
    args.out.mkdir(parents=True, exist_ok=True)
    seconds, metrics = [], {}
    for _ in range(args.repeat):
        with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its progress
            t0 = time.perf_counter()
            metrics = dataset.evaluate(outputs, res_folder=str(args.out), metric="mAP")
            seconds.append(time.perf_counter() - t0)
    n_results = len(json.loads((args.out / "result_keypoints.json").read_text()))
    _common.write_json(
        args.out / "bench.json",
        {
            "metrics": dict(metrics),
            "seconds": seconds,
            "num_instances": len(raw["image_ids"]),
            "num_results": n_results,
            "config": args.config,
            "versions": _common.versions(),
        },
    )
    return 0


if __name__ == "__main__":
    _common.run_main(main)
