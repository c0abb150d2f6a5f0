"""Seeded predictions for a COCO-style annotation file (the sample files under tests/data/samples): every
labelled person, its joints moved by a few pixels, scores drawn at random. Scoring them gives non-trivial AP/AR.

`python -m tests.helpers.predictions ANN OUT` writes them as a COCO results file.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def jittered_predictions(ann_file: str | Path, *, seed: int = 0, pixels: float = 6.0) -> list[dict]:
    gt = json.loads(Path(ann_file).read_text())
    rng = random.Random(seed)
    preds = []
    for ann in gt["annotations"]:
        kps = ann["keypoints"]
        if not any(kps[2::3]):
            continue
        out = []
        for x, y, _ in zip(kps[0::3], kps[1::3], kps[2::3], strict=True):
            out += [round(x + rng.gauss(0, pixels), 2), round(y + rng.gauss(0, pixels), 2), round(rng.random(), 4)]
        preds.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "keypoints": out,
                      "score": round(rng.uniform(0.3, 1.0), 4)})  # fmt: skip
    return preds


if __name__ == "__main__":
    ann, out = sys.argv[1:3]
    Path(out).write_text(json.dumps(jittered_predictions(ann)) + "\n")
