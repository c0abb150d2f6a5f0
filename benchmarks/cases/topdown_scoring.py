"""Case `topdown_postprocess_score`: rescoring + per-image OKS-NMS + COCO keypoint AP of a COCO-val-sized top-down
result set (benchmarks/synthetic.py), ours vs MMPose 0.29's `TopDownCocoDataset.evaluate()` on the same raw outputs.

Ours (timed): what `evaluate` does after the forward passes: the batched post-processing
(`harness.topdown.postprocess.select_results`, the core of `to_coco_results`, proven equal to the former per-image
loop by tests/harness/topdown/test_topdown_postprocess.py), the result dicts, writing predictions.json
(harness/results.py; checked in this run to read back as the very same values) and the fast COCO evaluator on
the result dicts as `evaluate --scoring fast` scores them (harness/metrics/fast_coco.py: validation, GT and prediction
arrays included; per-joint AP off, as the reference computes none). The fast
evaluator is only counted when proven on this very input in this run (untimed check): its metrics equal the
library's (xtcocotools, the evaluator of record) with ==; otherwise the library path is what gets timed. The
reference's time covers evaluate() alone (rescoring, OKS-NMS, writing its json, COCOeval); its metrics and
its result_keypoints.json are compared with ours value for value.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from benchmarks.suite import BenchContext, register, timed
from benchmarks.synthetic import COCO_SIGMAS, make_ground_truth, make_topdown_outputs, save_outputs
from harness.metrics.coco import evaluate_coco_keypoints
from harness.results import write_predictions
from harness.topdown.postprocess import results_as_dicts, select_results, to_coco_results

VIS_THR, OKS_THR = 0.2, 0.9  # the COCO top-down configs' data_cfg (PROTOCOLS.md §3)
#: MMPose's metric names -> ours (PROTOCOLS.md §5)
REFERENCE_NAMES = {"AP": "AP", "AP .5": "AP50", "AP .75": "AP75", "AP (M)": "APm", "AP (L)": "APl", "AR": "AR",
                   "AR .5": "AR50", "AR .75": "AR75", "AR (M)": "ARm", "AR (L)": "ARl"}  # fmt: skip


def _ours(output, gt: dict[str, Any], predictions_path) -> dict[str, Any]:
    t0 = time.perf_counter()
    rows, scores = select_results(output, vis_thr=VIS_THR, oks_nms_thr=OKS_THR, sigmas=COCO_SIGMAS)
    t1 = time.perf_counter()
    dicts = results_as_dicts(output, rows, scores)
    t2 = time.perf_counter()
    write_predictions(predictions_path, dicts)
    t3 = time.perf_counter()
    scored = evaluate_coco_keypoints(dicts, gt, sigmas=COCO_SIGMAS, use_area=True, per_keypoint=False, backend="fast")
    return {"dicts": dicts, "metrics": dict(scored.metrics), "backend": scored.backend, "post_s": t1 - t0,
            "dicts_s": t2 - t1, "write_s": t3 - t2, "score_s": time.perf_counter() - t3}  # fmt: skip


def _reference(ctx: BenchContext, gt_path, raw_path, repeats: int) -> dict[str, Any]:
    from harness.oracle import oracle_python, run_oracle

    if oracle_python() is None:
        return {"skipped": "oracle venv not built (python oracle/build_env.py)"}
    out = ctx.workdir / "reference"
    run_oracle("bench_evaluate", "--ann-file", gt_path, "--outputs", raw_path, "--out", out, "--repeat", repeats,
               timeout=3600, niceness=0)  # fmt: skip
    bench = json.loads((out / "bench.json").read_text())
    results = json.loads((out / "result_keypoints.json").read_text())
    return {**bench, "results": results}


def _same_results(ours: list[dict], ref: list[dict]) -> bool:
    fields = ("image_id", "keypoints", "score", "center", "scale")
    return len(ours) == len(ref) and all(all(a[f] == b[f] for f in fields) for a, b in zip(ours, ref, strict=True))


@register(
    "topdown_postprocess_score",
    unit="s",
    what="rescoring + per-image OKS-NMS + COCO keypoint AP (xtcocotools semantics) of a synthetic COCO-val-sized "
    "top-down result set (5000 images, ~6.5k GT persons, ~100k AP_H_56-like boxes); reference = MMPose 0.29 "
    "TopDownCocoDataset.evaluate()",
)
def topdown_postprocess_score(ctx: BenchContext) -> dict[str, Any]:
    size = "small" if ctx.quick else "full"
    gt = make_ground_truth(seed=ctx.seed, size=size)
    output = make_topdown_outputs(gt, seed=ctx.seed)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    gt_path, raw_path = ctx.workdir / "gt.json", ctx.workdir / "raw.npz"
    gt_path.write_text(json.dumps(gt))
    save_outputs(raw_path, output)

    predictions_path = ctx.workdir / "predictions.json"
    median, all_s, last = timed(lambda: _ours(output, gt, predictions_path), ctx.repeats)
    dicts = last["dicts"]
    t_harness, _, harness_dicts = timed(
        lambda: to_coco_results(output, vis_thr=VIS_THR, oks_nms_thr=OKS_THR, sigmas=COCO_SIGMAS), 1
    )
    t_lib, _, lib = timed(
        lambda: evaluate_coco_keypoints(dicts, gt, sigmas=COCO_SIGMAS, use_area=True, per_keypoint=False), 1
    )
    checks = {
        "postprocess_dicts_identical": harness_dicts == dicts,
        "predictions_file_reads_back_identical": json.loads(predictions_path.read_bytes()) == dicts,
        "fast_scoring_identical_to_library": last["backend"] == "fast" and dict(lib.metrics) == last["metrics"],
    }
    notes = []
    ours_s = median
    if not all(checks.values()):
        ours_s = t_harness + t_lib + last["write_s"]
        notes.append(
            "a fast path was NOT identical on this input: ours = harness to_coco_results + writing + library scoring"
        )
    ours = {
        "seconds": ours_s,
        "seconds_all": all_s,
        "parts": {
            "postprocess": last["post_s"],
            "result_dicts": last["dicts_s"],
            "write_predictions_json": last["write_s"],
            "scoring": last["score_s"],
            "harness_to_coco_results (info)": t_harness,
            "library_scoring (info)": t_lib,
        },
        "metrics": last["metrics"],
        "num_instances": len(output),
        "num_results": len(dicts),
    }
    reference = None
    if ctx.reference:
        ref = _reference(ctx, gt_path, raw_path, ctx.repeats if ctx.quick else max(1, min(ctx.repeats, 3)))
        if "skipped" in ref:
            notes.append(f"reference skipped: {ref['skipped']}")
        else:
            ref_metrics = {REFERENCE_NAMES[k]: v for k, v in ref["metrics"].items()}
            checks["metrics_identical_to_reference"] = ref_metrics == last["metrics"]
            checks["results_identical_to_reference"] = _same_results(dicts, ref["results"])
            diffs = [f"{k}: ours {last['metrics'][k]!r} vs reference {v!r}" for k, v in ref_metrics.items()
                     if last["metrics"][k] != v]  # fmt: skip
            notes += [f"metric difference {d}" for d in diffs]
            reference = {
                "seconds": float(np.median(ref["seconds"])),
                "seconds_all": ref["seconds"],
                "metrics": ref_metrics,
                "num_results": ref["num_results"],
                "versions": ref["versions"],
            }
    notes.append(
        "timed: ours = select_results + result dicts + writing predictions.json + fast scoring of the dicts (what "
        "evaluate --scoring fast does after the forward passes); reference = evaluate() incl. its json_tricks file "
        "round trip"
    )
    return {
        "ours": ours,
        "reference": reference,
        "ratio": reference["seconds"] / ours_s if reference else None,
        "unit": "s",
        "notes": notes,
        "checks": checks,
        "inputs": {
            "size": size,
            "seed": ctx.seed,
            "images": len(gt["images"]),
            "gt_annotations": len(gt["annotations"]),
            "instances": len(output),
        },
    }
