"""The plain library, as a user would call it from a script: `python benchmarks/plain_xtcocotools.py ANN PRED OUT`
(COCO keypoint AP with xtcocotools, COCO's sigmas, GT area; the benchmark case score_cli_end_to_end times it as a
process beside `python -m harness score`). Writes the ten summary statistics to OUT as JSON."""

import json
import sys

import numpy as np
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

SIGMAS = np.array([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
                   0.087, 0.087, 0.089, 0.089])  # fmt: skip

ann_file, pred_file, out_file = sys.argv[1:4]
coco = COCO(ann_file)
dets = coco.loadRes(pred_file)
ev = COCOeval(coco, dets, "keypoints", SIGMAS, True)
ev.params.useSegm = None
ev.evaluate()
ev.accumulate()
ev.summarize()
with open(out_file, "w") as f:
    json.dump([float(s) for s in ev.stats], f)
