"""Case `bottomup_grouping_workers`: bottom-up seconds per image with grouping + refinement in worker processes
(`predict_bottomup_dataset(pool=)`, harness/bottomup/parallel.py: image i grouped while the model runs on image i+1)
vs serial, and the grouping share of a serial run. Ours only: the reference groups serially after each forward.

The benchmark's HigherHRNet-W32 512 with realistic weights (bottomup_inference.py), exact mode, flip, single scale,
on a list of 8 images (the two COCO sample images, alternating under 8 ids: the pipeline needs more than two images
to fill). The workers are started before the timing (their start-up, reported apart, is paid once per run). Check of
the same run: the records with workers equal the serial ones (==, floats included).
"""

from __future__ import annotations

import json
import time
from typing import Any

from benchmarks.cases._inference import build, samples, torch_threads
from benchmarks.cases.bottomup_inference import ENTRY, IMAGES, _subset_annotations, bottomup_run, realistic_checkpoint
from benchmarks.suite import BenchContext, load_average, register, timed

N_IMAGES = 8


def _image_list(ctx: BenchContext, ann_file, n: int):
    data = json.loads(ann_file.read_text())
    files = {img["id"]: img for img in data["images"]}
    images = [{**files[IMAGES[i % len(IMAGES)]], "id": i + 1} for i in range(n)]
    out = ctx.workdir / f"bottomup_workers_{n}images.json"
    out.write_text(json.dumps({**data, "images": images, "annotations": []}))
    return out


@register(
    "bottomup_grouping_workers",
    unit="s/image",
    what="HigherHRNet-W32 512 bottom-up (exact, flip, single scale, realistic weights) per image with grouping + "
    "refinement in 2 worker processes overlapping the next forward vs serial (ours only; ratio = serial / workers); "
    "the grouping share of the serial run",
)
def bottomup_grouping_workers(ctx: BenchContext) -> dict[str, Any]:
    from harness.bottomup.inference import aggregate_image, predict_bottomup_dataset
    from harness.bottomup.parallel import group_image, grouping_pool
    from harness.data.images import read_image

    coco = samples("coco")
    n = 3 if ctx.quick else N_IMAGES
    repeats = 1 if ctx.quick else max(1, min(ctx.repeats, 2))
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    ann = _image_list(ctx, coco / "test_coco.json", n)
    run = bottomup_run((1.0,))
    load_start = load_average()
    with torch_threads(ctx.threads):
        ckpt = realistic_checkpoint(ctx, IMAGES, _subset_annotations(ctx, coco / "test_coco.json", IMAGES), coco)
        model = build(ENTRY, ckpt)
        serial_s, serial_all, serial = timed(lambda: predict_bottomup_dataset(model, ann, coco, **run), repeats)
        images = json.loads(ann.read_text())["images"]
        forward_s = group_s = 0.0
        for img in images:  # the parts of a serial run, image by image
            t0 = time.perf_counter()
            heat, tags, plan = aggregate_image(model, read_image(coco / img["file_name"]), **run)
            t1 = time.perf_counter()
            group_image(heat, tags, plan, run["protocol"], run["schema"], img["id"])
            forward_s, group_s = forward_s + t1 - t0, group_s + time.perf_counter() - t1
        workers = {}
        for w in (1, 2):
            t0 = time.perf_counter()
            with grouping_pool(w) as pool:
                pool.warm()
                startup = time.perf_counter() - t0
                s, all_s, res = timed(lambda: predict_bottomup_dataset(model, ann, coco, **run, pool=pool), repeats)
            workers[w] = {"seconds": s / n, "seconds_all": [x / n for x in all_s], "pool_startup_s": startup,
                          "ratio_vs_serial": serial_s / s, "identical_to_serial": res == serial}  # fmt: skip
    return {
        "ours": {
            "seconds": workers[2]["seconds"],
            "serial": {"seconds": serial_s / n, "seconds_all": [x / n for x in serial_all]},
            "workers": {str(w): v for w, v in workers.items()},
            "grouping_share_of_serial": group_s / (forward_s + group_s),
            "parts_per_image_s": {"decode_forward_aggregate": forward_s / n, "grouping_refine_projection": group_s / n},
            "persons": len(serial),
            "threads": ctx.threads,
            "load_average": {"start": load_start, "end": load_average()},
        },
        "reference": None,
        "ratio": None,
        "unit": "s/image",
        "notes": [
            f"{n} images, torch threads {ctx.threads} in the main process, 1 per worker; serial "
            f"{serial_s / n:.2f} s/image, 1 worker {workers[1]['seconds']:.2f}, 2 workers {workers[2]['seconds']:.2f} "
            f"({workers[2]['ratio_vs_serial']:.2f}x); grouping {100 * group_s / (forward_s + group_s):.0f} % of a "
            "serial run",
        ],
        "checks": {f"workers_{w}_identical_to_serial": v["identical_to_serial"] for w, v in workers.items()},
        "inputs": {"images": n, "image_files": list(IMAGES), "entry": ENTRY, "seed": ctx.seed, "scales": [1.0]},
    }
