"""Case `bottomup_seconds_per_image`: HigherHRNet-W32 512 bottom-up inference (decode, resize, forward + flip per
scale, aggregation, grouping, adjust, refine, back to image; PROTOCOLS.md §4) per image on COCO sample images,
single-scale and multi-scale [2, 1, 0.5], ours (`predict_bottomup_dataset` in the three numeric modes: exact fp32,
tuned = fp32 with BN folded + channels_last, fast = tuned + bf16 autocast) vs MMPose 0.29 `single_gpu_test`
(oracle/bench_inference.py), same weights file, same thread count.

Weights: seeded random, BN recalibrated, then the last layer's heatmap biases lowered (per joint) so that only
~PEAKS_PER_JOINT heatmap peaks per joint type and image (after the 5x5 NMS, single scale) exceed the detection
threshold 0.1 on the sample images. Untouched random weights put all 30 top-k candidates of every joint above it,
and grouping/refine of hundreds of "people" then dominate both sides unrealistically. Random tags, too, never agree
within a person, so every candidate would start its own person: the tag channels' weights and biases are scaled
so that |tag| <= TAG_SPREAD on the sample images: tag distances stay below the tag threshold 1 and candidates
group. Each image then yields a realistic number of people (recorded per side, and checked equal).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
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

ENTRY = "higher_hrnet32_coco_512x512"
CONFIG = "configs/body/2d_kpt_sview_rgb_img/associative_embedding/coco/higherhrnet_w32_coco_512x512.py"
IMAGES = (785, 196141)  # two COCO sample images (640x425, 640x429)
PEAKS_PER_JOINT = 3  # NMS peaks per joint type and image above the detection threshold
DETECTION_THRESHOLD = 0.1
LAST_BIAS = "keypoint_head.final_layers.1.bias"  # the second stage's heatmaps (PROTOCOLS.md §1.2)
TAG_LAYER = "keypoint_head.final_layers.0"  # channels K..2K-1 are the tags (PROTOCOLS.md §4)
TAG_SPREAD = 0.3  # largest |tag| after scaling: tag distances (L2 over orig/flip) stay below the threshold 1


def bottomup_run(scales: tuple[float, ...]) -> dict[str, Any]:
    """The bottom-up inference keywords (protocol, schema, input_size) of the entry's row under the mmpose-0.29
    protocol (what the reference runs), given scales."""
    from harness.protocols import run_protocol
    from zoo.registry.load import load_registry

    reg = load_registry()
    entry = reg.entry(ENTRY)
    protocol = run_protocol(entry.results[0], "mmpose-0.29")
    return {
        "protocol": dataclasses.replace(protocol, scales=tuple(scales)),
        "schema": reg.schemas[entry.architecture.keypoint_schema],
        "input_size": entry.architecture.input_size[0],
    }


def realistic_checkpoint(ctx: BenchContext, image_ids: tuple[int, ...], ann_file: Path, img_dir: Path) -> Path:
    """The seeded random checkpoint with its heatmap biases lowered (module docstring); made once per folder."""
    from harness.bottomup.grouping import top_candidates
    from harness.bottomup.inference import aggregate_image
    from harness.checkpoints.safe_load import load_checkpoint
    from harness.data.images import read_image

    out = ctx.workdir / f"{ENTRY}-seed{ctx.seed}-realistic.pth"
    if out.is_file():
        return out
    src = random_checkpoint(ctx, ENTRY, calib_size=(256, 256))
    files = {img["id"]: img["file_name"] for img in json.loads(ann_file.read_text())["images"]}
    images = [read_image(img_dir / files[i]) for i in image_ids]
    run = bottomup_run((1.0,))
    p = run["protocol"]
    state = dict(load_checkpoint(src).state_dict)
    k = run["schema"].num_keypoints
    # 1. Tags come from the first head layer (linear in its tag rows): scale them to |tag| <= TAG_SPREAD. The
    #    second stage reads the first stage's output (HigherHRNet's cat_output), so this comes first.
    model = build(ENTRY, src)
    tag_max = max(float(aggregate_image(model, im, **run)[1].abs().max()) for im in images)
    for name in (f"{TAG_LAYER}.weight", f"{TAG_LAYER}.bias"):
        tensor = state[name].clone()
        tensor[k:] *= TAG_SPREAD / tag_max
        state[name] = tensor
    # 2. The aggregated heatmap of joint j is the mean of the two stages' maps, each an affine image of its biased
    #    conv output (resize and flip mean preserve a constant); the last layer feeds nothing else. Lowering the
    #    second stage's bias j by 2 * shift[j] lowers the aggregated map, and its NMS peaks (same places), by
    #    shift[j]: per joint, keep the PEAKS_PER_JOINT * images highest peaks above the detection threshold.
    model.load_state_dict(state)
    peaks = []
    for im in images:
        heat, tags, _ = aggregate_image(model, im, **run)
        peaks.append(top_candidates(heat, tags, k=p.max_num_people, nms_kernel=p.nms_kernel).val)  # [K, k]
    top = -np.sort(-np.concatenate(peaks, axis=1), axis=1)  # [K, images * k], descending
    n_keep = PEAKS_PER_JOINT * len(image_ids)
    shift = torch.from_numpy((top[:, n_keep - 1] + top[:, n_keep]) / 2 - DETECTION_THRESHOLD)
    bias = state[LAST_BIAS].clone()
    bias[:k] -= 2 * shift.to(bias.dtype)
    state[LAST_BIAS] = bias
    meta = {
        "hrnet_zoo_benchmark": f"seed {ctx.seed} random weights; tag rows of {TAG_LAYER} scaled by "
        f"{TAG_SPREAD / tag_max:.4g}; {LAST_BIAS} lowered by 2 x "
        f"{[round(float(v), 4) for v in shift]}"
    }
    torch.save({"state_dict": state, "meta": meta}, out)
    return out


def _subset_annotations(ctx: BenchContext, ann_file: Path, image_ids: tuple[int, ...]) -> Path:
    data = json.loads(ann_file.read_text())
    data["images"] = [i for i in data["images"] if i["id"] in image_ids]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in image_ids]
    out = ctx.workdir / f"bottomup_{len(image_ids)}images.json"
    out.write_text(json.dumps(data))
    return out


def _run_ours(model, ann: Path, img_dir: Path, scales, image_ids, repeats: int, *, fast: bool = False):
    from harness.bottomup.inference import predict_bottomup_dataset

    kw = bottomup_run(scales)

    def run() -> list[dict]:
        if fast:
            with fast_mode():
                return predict_bottomup_dataset(model, ann, img_dir, **kw, image_ids=image_ids)
        return predict_bottomup_dataset(model, ann, img_dir, **kw, image_ids=image_ids)

    median, all_s, res = timed(run, repeats)
    persons = [sum(r["image_id"] == i for r in res) for i in image_ids]
    return median / len(image_ids), [s / len(image_ids) for s in all_s], persons, res


@register(
    "bottomup_seconds_per_image",
    unit="s/image",
    what="HigherHRNet-W32 512 bottom-up inference with flip per COCO sample image (decode, resize, forward, "
    "aggregation, grouping, refine), single-scale and multi-scale [2, 1, 0.5]; ours exact fp32 / tuned (fp32, BN "
    "folded + channels_last) / fast (tuned + bf16 autocast) vs MMPose 0.29 single_gpu_test, same weights "
    "(heatmap biases lowered to a realistic peak count) and thread count; ratio = reference / ours seconds "
    "(exact, single-scale)",
)
def bottomup_seconds_per_image(ctx: BenchContext) -> dict[str, Any]:
    coco = samples("coco")
    image_ids = IMAGES[:1] if ctx.quick else IMAGES
    variants = {"single": (1.0,)} if ctx.quick else {"single": (1.0,), "multi": (2.0, 1.0, 0.5)}
    repeats = ctx.repeats if ctx.quick else max(1, min(ctx.repeats, 3))
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    ann = _subset_annotations(ctx, coco / "test_coco.json", image_ids)
    checks: dict[str, bool] = {}
    ours: dict[str, Any] = {"threads": ctx.threads, "load_average": load_average()}
    reference: dict[str, Any] | None = {} if ctx.reference else None
    notes = [f"{len(image_ids)} image(s), flip test, {ctx.threads} torch thread(s) on both sides; seconds per image = "
             f"median of {repeats} passes over the images / images (model build excluded)"]  # fmt: skip
    with torch_threads(ctx.threads):
        ckpt = realistic_checkpoint(ctx, image_ids, ann, coco)
        models = {mode: build(ENTRY, ckpt, mode=mode) for mode in ("exact", "tuned", "fast")}
        for name, scales in variants.items():
            runs = {mode: _run_ours(model, ann, coco, scales, image_ids, repeats, fast=mode == "fast")
                    for mode, model in models.items()}  # fmt: skip
            ours[name] = {"seconds": runs["exact"][0], "seconds_all": runs["exact"][1],
                          "persons_per_image": runs["exact"][2]}  # fmt: skip
            for mode in ("tuned", "fast"):
                s, all_s, persons, res = runs[mode]
                ours[name][mode] = {"seconds": s, "seconds_all": all_s, "persons_per_image": persons,
                                    "same_results_as_exact": res == runs["exact"][3]}  # fmt: skip
    ours["seconds"] = ours["single"]["seconds"]
    if reference is not None:
        for name, scales in variants.items():
            args = ["--config", CONFIG, "--checkpoint", ckpt, "--ann-file", ann, "--img-prefix", coco]
            if len(scales) > 1:
                args += ["--test-scale-factor", ",".join(f"{s:g}" for s in scales)]
            ref = run_reference(ctx, f"bottomup-{name}", *args, repeats=repeats)
            if "skipped" in ref:
                notes.append(f"reference skipped: {ref['skipped']}")
                reference = None
                break
            persons = ref.pop("outputs")["persons_per_image"].tolist()
            per_image = [s / len(image_ids) for s in ref["seconds"]]
            reference[name] = {**ref, "seconds": float(np.median(per_image)), "seconds_all": per_image,
                               "persons_per_image": persons}  # fmt: skip
            checks[f"{name}_same_person_count_as_reference"] = persons == ours[name]["persons_per_image"]
            ours[name]["ratio"] = reference[name]["seconds"] / ours[name]["seconds"]
            for mode in ("tuned", "fast"):
                ours[name][mode]["ratio"] = reference[name]["seconds"] / ours[name][mode]["seconds"]
        if reference is not None:
            reference["seconds"] = reference["single"]["seconds"]
            reference["load_average_after"] = load_average()
    return {
        "ours": ours,
        "reference": reference,
        "ratio": reference["seconds"] / ours["seconds"] if reference else None,
        "unit": "s/image",
        "notes": notes,
        "checks": checks,
        "inputs": {"images": list(image_ids), "variants": {k: list(v) for k, v in variants.items()},
                   "seed": ctx.seed, "entry": ENTRY, "config": CONFIG, "peaks_per_joint": PEAKS_PER_JOINT,
                   "tag_spread": TAG_SPREAD},
    }  # fmt: skip
