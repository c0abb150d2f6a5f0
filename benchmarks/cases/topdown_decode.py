"""Case `topdown_decode`: the cost of each top-down decoder (PROTOCOLS.md §3, §3.1) on one batch of flip-averaged
heatmaps, per 1000 instances: `default` (argmax + quarter offset), `dark`, `udp` and `udp-combined`, as
harness.topdown.inference.decode runs them (vectorised over all N*K maps; the Gaussian blurs are one OpenCV call per
map, see harness/topdown/unbiased.py). Inputs: synthetic Gaussian heatmaps (one sub-pixel peak per map plus noise)
of 32 instances x 17 keypoints (x3 channels for udp-combined) at 64x48 (256x192 input, kernel 11) and 96x72
(384x288, kernel 17). No reference side: MMPose 0.29 refines one keypoint at a time in Python, and its decode is
part of the whole-run inference cases.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, get_args

import numpy as np

from benchmarks.suite import BenchContext, register, timed
from harness.topdown.inference import decode
from zoo.evaluators.coco_keypoints import CocoKeypointsEvaluator
from zoo.registry.schema import BoxSource, Era, TopDownDecoder, TopDownProtocol

#: (heatmap H, W, kernel) of the 256x192 and 384x288 rows (zoo.yaml td-coco-dark / td-coco-udp).
SIZES = ((64, 48, 11), (96, 72, 17))
BATCH, JOINTS = 32, 17


def _protocol() -> TopDownProtocol:
    return TopDownProtocol(
        flip=True, scales=(1.0,), evaluator=CocoKeypointsEvaluator(library="xtcocotools", sigmas="coco"),
        era=Era(name="bench"), boxes=BoxSource(kind="gt"), padding=1.25, shift_heatmap=True, vis_thr=0.2,
        oks_nms_thr=0.9, decoder="default", affine="standard", kernel=11, precision="fp32",
    )  # fmt: skip


def _heatmaps(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    centres = rng.uniform([3, 3], [w - 4, h - 4], size=(n, c, 2))
    ys, xs = np.mgrid[0:h, 0:w]
    d2 = (xs - centres[..., 0, None, None]) ** 2 + (ys - centres[..., 1, None, None]) ** 2
    return (np.exp(-d2 / 8.0) + rng.normal(0, 1e-3, size=(n, c, h, w))).astype(np.float32)


@register(
    "topdown_decode",
    unit="ms",
    what="top-down heatmap decoding per 1000 instances (17 keypoints): default, DARK, UDP, UDP CombinedTarget, at "
    "64x48 and 96x72 heatmaps (batches of 32)",
)
def topdown_decode(ctx: BenchContext) -> dict[str, Any]:
    rng = np.random.default_rng(ctx.seed)
    centers = np.tile(np.array([[320.0, 240.0]], np.float32), (BATCH, 1))
    scales = np.tile(np.array([[1.2, 1.6]], np.float32), (BATCH, 1))
    parts: dict[str, float] = {}
    for h, w, kernel in SIZES:
        for name in get_args(TopDownDecoder):
            channels = 3 * JOINTS if name == "udp-combined" else JOINTS
            hm = _heatmaps(rng, BATCH, channels, h, w)
            protocol = replace(_protocol(), decoder=name, kernel=kernel)
            median, _, out = timed(lambda p=protocol, m=hm: decode(m, centers, scales, p), ctx.repeats)
            assert out.shape == (BATCH, JOINTS, 3) and np.isfinite(out).all()
            parts[f"{name} {h}x{w}"] = median * 1000 * (1000 / BATCH)
    return {
        "ours": {"seconds": parts["dark 64x48"] / 1000, "parts": parts},
        "reference": None,
        "ratio": None,
        "unit": "ms",
        "notes": ["parts: ms per 1000 instances (median of the repeats); 'seconds' is dark at 64x48, per 1000"],
        "checks": {},
        "inputs": {"batch": BATCH, "keypoints": JOINTS, "sizes": [list(s) for s in SIZES], "seed": ctx.seed},
    }
