"""Score given bottom-up predictions with MMPose 0.29's own `dataset.evaluate` (inside the oracle venv), no model.

    score_bottomup.py --config C --ann-file A --img-prefix DIR --predictions P --out DIR

P is a COCO-results JSON list ({image_id, keypoints [x, y, score] * K, score}). Each image of the config's test
dataset (built on A) becomes one result record as the bottom-up test loop hands it over (preds [P, K, 4] with a zero
tag, scores, image_paths), and `dataset.evaluate(results, res_folder=DIR, metric='mAP')` scores them: the dataset's
own result writer and evaluator of record (for CrowdPose, xtcocotools' `keypoints_crowd` and its crowd bins). Writes
DIR/metrics.json ({"values": what evaluate returned}) beside MMPose's DIR/result_keypoints.json.

Why: with random weights the persons of oracle/evaluate.py score AP 0, so metric parity there only shows 0 == 0;
predictions near the ground truth give every stat a value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _common
import numpy as np


def results_for(dataset, predictions: list[dict], img_prefix: str) -> list[dict]:
    by_image: dict[int, list[dict]] = {}
    for p in predictions:
        by_image.setdefault(int(p["image_id"]), []).append(p)
    k = dataset.ann_info["num_joints"]
    results = []
    for image_id in dataset.img_ids:
        persons = by_image.get(int(image_id), [])
        preds = [
            np.concatenate([np.asarray(p["keypoints"], dtype=np.float64).reshape(k, 3), np.zeros((k, 1))], axis=1)
            for p in persons
        ]
        results.append(
            {
                "preds": preds,
                "scores": [float(p["score"]) for p in persons],
                "image_paths": [img_prefix + dataset.id2name[image_id]],
            }
        )
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--ann-file", required=True, type=Path)
    ap.add_argument("--img-prefix", required=True, type=Path)
    ap.add_argument("--predictions", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()

    from mmpose.datasets import build_dataset

    cfg = _common.load_config(args.config)
    if cfg.model.type != "AssociativeEmbedding":
        raise _common.OracleScriptError(f"{args.config} is not a bottom-up config")
    ds = cfg.data.test
    ds.ann_file = str(args.ann_file.resolve())
    ds.img_prefix = str(args.img_prefix.resolve()) + "/"
    dataset = build_dataset(ds, dict(test_mode=True))
    predictions = json.loads(args.predictions.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    values = dataset.evaluate(results_for(dataset, predictions, ds.img_prefix), res_folder=str(args.out), metric="mAP")
    _common.write_json(args.out / "metrics.json", {"dataset": type(dataset).__name__, "values": values})
    print(f"\n{values}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
