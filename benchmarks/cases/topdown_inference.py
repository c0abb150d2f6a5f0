"""Case `topdown_crops_per_s`: end-to-end top-down inference throughput of HRNet-W32 256x192 (image decode, affine
crop, normalisation, forward + flip forward, flip-back, 'default' decode; PROTOCOLS.md §3) on the COCO sample's
detection boxes (tests/data/samples/coco: 118 AP_H_56 boxes on 4 images; quick mode: the first 4 boxes).

- ours exact: `harness.topdown.inference.predict_topdown`, fp32, cv2 crops, batch 32 (what `--mode exact` runs).
- ours tuned: the same with BN folded into the convolutions and channels_last, fp32 (`--mode tuned`).
- ours fast: tuned plus bf16 autocast (`--mode fast` on the CPU).
- reference: MMPose 0.29 `single_gpu_test` over the config's test pipeline (oracle/bench_inference.py), same boxes,
  same checkpoint file (seeded random weights, BN recalibrated), same torch thread count (recorded).
Untimed checks: our exact keypoints equal the reference's within the parity tolerance (1e-3 px, docs/PARITY.md);
the torch crop backend gives bit-identical keypoints to the cv2 one. Tuned and fast drift against exact (random
weights: keypoint displacement statistics, and the COCO-sample AP, which random weights keep near 0) is recorded;
random-weight heatmaps are nearly flat, so this is an upper bound: the trained demo model's numbers are in
docs/PERFORMANCE.md and tests/harness/perf/test_numeric_modes.py.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from benchmarks.cases._inference import (
    build,
    fast_mode,
    random_checkpoint,
    run_reference,
    samples,
    torch_threads,
)
from benchmarks.suite import BenchContext, load_average, register, timed
from harness.topdown.output import TopdownOutput

ENTRY = "hrnet_w32_coco_256x192_coarsedropout"
CONFIG = "configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/hrnet_w32_coco_256x192_coarsedropout.py"
INPUT_HW = (256, 192)
PARITY_PX = 1e-3  # docs/PARITY.md: keypoints within 1e-3 px of MMPose 0.29


def _predict(model, instances, *, crop_backend: str = "cv2") -> TopdownOutput:
    """The entry's row under the mmpose-0.29 protocol (harness/protocols.py; padding 1.25, flip + shift, box scale
    rounded as MMPose 0.29 does), what the reference runs."""
    from harness.protocols import run_protocol
    from harness.topdown.inference import predict_topdown
    from zoo.registry.load import load_registry

    registry = load_registry()
    entry = registry.entry(ENTRY)
    return predict_topdown(
        model, instances, protocol=run_protocol(entry.results[0], "mmpose-0.29"),
        schema=registry.schemas[entry.architecture.keypoint_schema], input_size=entry.architecture.input_size,
        batch_size=32, crop_backend=crop_backend,  # type: ignore[arg-type]
    )  # fmt: skip


def drift(exact: TopdownOutput, fast: TopdownOutput) -> dict[str, Any]:
    """Keypoint displacement (px) and maxval change of fast vs exact predictions of the same crops."""
    d = np.hypot(*(fast.keypoints[..., :2] - exact.keypoints[..., :2]).reshape(-1, 2).T)
    v = np.abs(fast.keypoints[..., 2] - exact.keypoints[..., 2]).ravel()
    ref = np.maximum(np.abs(exact.keypoints[..., 2]).ravel(), 1e-6)
    return {
        "keypoints": int(d.size),
        "displacement_px": {
            "median": float(np.median(d)),
            "p95": float(np.percentile(d, 95)),
            "max": float(d.max()),
            "share_moved": float(np.mean(d > 0)),
            "share_over_1px": float(np.mean(d > 1.0)),
        },
        "maxval_rel_change": {"median": float(np.median(v / ref)), "max": float((v / ref).max())},
    }


def _sample_ap(output: TopdownOutput, ann_file) -> float:
    from benchmarks.synthetic import COCO_SIGMAS
    from harness.metrics.coco import evaluate_coco_keypoints
    from harness.topdown.postprocess import to_coco_results

    res = to_coco_results(output, vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    gt = json.loads(ann_file.read_text())
    return evaluate_coco_keypoints(res, gt, sigmas=COCO_SIGMAS, use_area=True, per_keypoint=False).metrics["AP"]


def _inputs(ctx: BenchContext):
    from harness.data.coco_style import load_detection_instances

    coco = samples("coco")
    ann, det = coco / "test_coco.json", coco / "test_coco_det_AP_H_56.json"
    if ctx.quick:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        det_small = ctx.workdir / "det_quick.json"
        det_small.write_text(json.dumps(json.loads(det.read_text())[:4]))
        det = det_small
    instances = load_detection_instances(det, ann_file=ann, img_dir=coco).instances
    return coco, ann, det, instances


def _reference(ctx: BenchContext, ckpt, coco, ann, det, repeats: int, ours: TopdownOutput) -> tuple[dict, dict]:
    ref = run_reference(ctx, "topdown", "--config", CONFIG, "--checkpoint", ckpt, "--ann-file", ann,
                        "--img-prefix", coco, "--bbox-file", det, repeats=repeats)  # fmt: skip
    if "skipped" in ref:
        return ref, {}
    out = ref.pop("outputs")
    same_order = bool(np.array_equal(out["bbox_ids"], ours.bbox_ids))
    diff = float(np.abs(out["keypoints"][..., :2] - ours.keypoints[..., :2]).max()) if same_order else float("inf")
    checks = {"exact_keypoints_match_reference_1e-3px": same_order and diff <= PARITY_PX}
    ref["max_keypoint_diff_px_vs_ours_exact"] = diff
    return ref, checks


@register(
    "topdown_crops_per_s",
    unit="crops/s",
    what="HRNet-W32 256x192 top-down inference end to end (decode, crop, forward + flip, decode) on the COCO "
    "sample's 118 detection boxes, CPU; ours exact fp32 / tuned (fp32, BN folded + channels_last) / fast (tuned + "
    "bf16 autocast) vs MMPose 0.29 "
    "single_gpu_test, same weights file and thread count; ratio = ours / reference throughput (exact)",
)
def topdown_crops_per_s(ctx: BenchContext) -> dict[str, Any]:
    coco, ann, det, instances = _inputs(ctx)
    n = len(instances)
    ckpt = random_checkpoint(ctx, ENTRY, calib_size=INPUT_HW)
    repeats = ctx.repeats if ctx.quick else max(1, min(ctx.repeats, 3))
    load_start = load_average()
    with torch_threads(ctx.threads):
        model = build(ENTRY, ckpt)
        exact_s, exact_all, exact = timed(lambda: _predict(model, instances), repeats)
        torch_crop = _predict(model, instances, crop_backend="torch")
        model = build(ENTRY, ckpt, mode="tuned")
        tuned_s, tuned_all, tuned = timed(lambda: _predict(model, instances), repeats)
        model = build(ENTRY, ckpt, mode="fast")

        def run_fast() -> TopdownOutput:
            with fast_mode():
                return _predict(model, instances)

        fast_s, fast_all, fast = timed(run_fast, repeats)
    checks = {"torch_crop_backend_bit_identical": bool(np.array_equal(torch_crop.keypoints, exact.keypoints))}
    ap = {"exact": _sample_ap(exact, ann)}

    def variant(seconds: float, all_s: list[float], out: TopdownOutput, settings: str, name: str) -> dict:
        ap[name] = _sample_ap(out, ann)
        return {"seconds": seconds, "seconds_all": all_s, "crops_per_s": n / seconds, "settings": settings,
                "drift_vs_exact": drift(exact, out) | {"coco_sample_AP_exact": ap["exact"],
                                                       f"coco_sample_AP_{name}": ap[name]}}  # fmt: skip

    ours = {
        "seconds": exact_s,
        "seconds_all": exact_all,
        "crops_per_s": n / exact_s,
        "tuned": variant(tuned_s, tuned_all, tuned, "fp32, BN folded + channels_last", "tuned"),
        "fast": variant(fast_s, fast_all, fast, "bf16 autocast + BN folded + channels_last", "fast"),
        "threads": ctx.threads,
        "load_average": load_start,
    }
    notes = [f"{n} crops, flip test, batch 32, {ctx.threads} torch thread(s) on both sides; time = median of "
             f"{repeats} full passes (model build excluded)"]  # fmt: skip
    reference, ratio = None, None
    if ctx.reference:
        ref, ref_checks = _reference(ctx, ckpt, coco, ann, det, repeats, exact)
        if "skipped" in ref:
            notes.append(f"reference skipped: {ref['skipped']}")
        else:
            checks |= ref_checks
            ref_s = float(np.median(ref["seconds"]))
            reference = {**ref, "seconds": ref_s, "seconds_all": ref["seconds"], "crops_per_s": n / ref_s,
                         "load_average_after": load_average()}  # fmt: skip
            ratio = ref_s / exact_s
            ours["tuned"]["ratio_vs_reference"] = ref_s / tuned_s
            ours["fast"]["ratio_vs_reference"] = ref_s / fast_s
    return {
        "ours": ours,
        "reference": reference,
        "ratio": ratio,
        "unit": "crops/s",
        "notes": notes,
        "checks": checks,
        "inputs": {
            "crops": n,
            "images": len({i.image_id for i in instances}),
            "seed": ctx.seed,
            "entry": ENTRY,
            "config": CONFIG,
            "torch": str(torch.__version__),
        },
    }
