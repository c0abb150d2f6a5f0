"""Case `score_cli_end_to_end`: `python -m harness score` as a user runs it, a process timed from start to exit
(interpreter and imports, parsing the predictions file, validation, scoring with the per-joint breakdown, writing
the JSON), against the plain xtcocotools library called from a 20-line script (benchmarks/plain_xtcocotools.py:
COCO, loadRes, evaluate, accumulate, summarize; no per-joint breakdown), same inputs, same run, alternating.

Inputs: the synthetic COCO-val-sized set (benchmarks/synthetic.py: 5000 images, ~96k results after rescoring and
OKS-NMS, written by harness.results.write_predictions as `evaluate` writes them). The row is a COCO top-down entry
scored under mmpose-0.29 (xtcocotools, GT area). Checks of the same run (untimed): the ten metrics equal the plain
script's; the per-joint AP/AR equal the harness's library path (K more xtcocotools evaluations, as `--scoring
library` runs them); the scoring record says the fast core produced them. Start-up alone (`score --help`) is
timed too: what importing the CLI costs before any work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.suite import BenchContext, register
from benchmarks.synthetic import COCO_SIGMAS, make_ground_truth, make_topdown_outputs
from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.coco_common import STAT_NAMES
from harness.results import write_predictions
from harness.topdown.postprocess import to_coco_results

ENTRY = "hrnet_w32_coco_256x192_coarsedropout"  # any COCO top-down row: the mmpose-0.29 protocol fixes the scoring
PLAIN = Path(__file__).resolve().parents[1] / "plain_xtcocotools.py"


def _process(argv: list[str], stdout: Path | None = None) -> float:
    t0 = time.perf_counter()
    with open(stdout, "wb") if stdout else open("/dev/null", "wb") as out:
        subprocess.run(argv, check=True, stdout=out, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


@register(
    "score_cli_end_to_end",
    unit="s",
    what="`python -m harness score` (default: fast scoring + per-joint breakdown) as a process, start to exit, on a "
    "synthetic COCO-val-sized predictions file (5000 images, ~96k results); reference = the plain xtcocotools "
    "library from a 20-line script (no per-joint breakdown), same inputs, same run",
)
def score_cli_end_to_end(ctx: BenchContext) -> dict[str, Any]:
    size = "small" if ctx.quick else "full"
    gt = make_ground_truth(seed=ctx.seed, size=size)
    preds = to_coco_results(make_topdown_outputs(gt, seed=ctx.seed), vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    ann, pred = ctx.workdir / "score_gt.json", ctx.workdir / "score_predictions.json"
    ann.write_text(json.dumps(gt))
    write_predictions(pred, preds)
    ours_out, plain_out = ctx.workdir / "score_ours.json", ctx.workdir / "score_plain.json"
    ours_cmd = [
        sys.executable,
        "-m",
        "harness",
        "score",
        ENTRY,
        "--predictions",
        str(pred),
        "--ann-file",
        str(ann),
        "--protocol",
        "mmpose-0.29",
    ]
    plain_cmd = [sys.executable, str(PLAIN), str(ann), str(pred), str(plain_out)]
    ours_s, plain_s, startup_s = [], [], []
    for _ in range(ctx.repeats):  # alternating, so that a change of machine load hits both sides alike
        ours_s.append(_process(ours_cmd, ours_out))
        plain_s.append(_process(plain_cmd))
        startup_s.append(_process([sys.executable, "-m", "harness", "score", "--help"]))
    ours = json.loads(ours_out.read_text())
    plain = dict(zip(STAT_NAMES, json.loads(plain_out.read_text()), strict=True))
    library = evaluate_coco_keypoints(str(pred), str(ann), sigmas=COCO_SIGMAS, use_area=True, backend="library")
    checks = {
        "metrics_identical_to_plain_library": {**ours["metrics"], **ours["extra_metrics"]} == plain,
        "per_joint_identical_to_library_path": ours["per_keypoint"]
        == {k: dict(v) for k, v in library.per_keypoint.items()},
        "scored_by_fast_core": ours["scoring"] == {"requested": "fast", "backend": "fast"},
    }
    med = sorted(ours_s)[len(ours_s) // 2]
    ref = sorted(plain_s)[len(plain_s) // 2]
    startup = sorted(startup_s)[len(startup_s) // 2]
    return {
        "ours": {
            "seconds": med,
            "seconds_all": ours_s,
            "startup_seconds": startup,
            "startup_seconds_all": startup_s,
            "metrics": ours["metrics"],
            "per_keypoint_joints": len(ours["per_keypoint"]),
        },
        "reference": {
            "seconds": ref,
            "seconds_all": plain_s,
            "metrics": plain,
            "what": "benchmarks/plain_xtcocotools.py",
        },
        "ratio": ref / med,
        "unit": "s",
        "notes": [
            f"start-up alone (`python -m harness score --help`): {startup:.2f} s of ours",
            "ours computes the per-joint breakdown too (17 more evaluations in the library); the script does not",
        ],
        "checks": checks,
        "inputs": {
            "size": size,
            "seed": ctx.seed,
            "images": len(gt["images"]),
            "results": len(preds),
            "predictions_bytes": pred.stat().st_size,
        },
    }
