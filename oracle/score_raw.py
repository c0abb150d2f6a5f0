"""Score top-down outputs with MMPose 0.29's own `dataset.evaluate`, without running a model (inside the oracle venv).

    score_raw.py --config C --ann-file A --img-prefix DIR --raw RAW.json [--metric M ...] --out DIR

RAW.json holds records of the shape evaluate.py writes under "instances" (image_file, bbox_id, center, scale, area,
score, keypoints [K, 3] in 0-based pixels); they are handed to the config's test dataset, built on the given
annotation file, as one batch of `single_gpu_test` outputs. Writes DIR/metrics.json as evaluate.py does. Used by the
MPII parity test to compare PCKh on predictions that score neither 0 nor 1 (random weights score ~0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _common
import numpy as np
from evaluate import configure_test_data, default_metrics, evaluate_metrics


def outputs_of(records: list[dict]) -> list[dict]:
    """The records as one batch of MMPose's top-down test outputs."""
    boxes = [[*r["center"], *r["scale"], r["area"], r["score"]] for r in records]
    return [
        {
            "preds": np.asarray([r["keypoints"] for r in records], dtype=np.float32),
            "boxes": np.asarray(boxes, dtype=np.float32),
            "image_paths": [r["image_file"] for r in records],
            "bbox_ids": [r["bbox_id"] for r in records],
        }
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--ann-file", required=True, type=Path)
    ap.add_argument("--img-prefix", required=True, type=Path)
    ap.add_argument("--raw", required=True, type=Path, help="JSON list of top-down records (evaluate.py's shape)")
    ap.add_argument("--metric", action="append", help="dataset.evaluate metric (repeatable); default: the config's")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    args.bbox_file, args.use_gt_bbox, args.test_scale_factor, args.no_flip = None, False, None, False

    from mmpose.datasets import build_dataset

    cfg = _common.load_config(args.config)
    configure_test_data(cfg, args)
    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    records = json.loads(args.raw.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_metrics(dataset, outputs_of(records), args.out, args.metric or default_metrics(cfg, dataset))
    _common.write_json(args.out / "metrics.json", metrics)
    print(f"\n{metrics}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
