"""Protocol records and keypoint schemas for tests that run inference without a registry row: the values of the
registry's own templates (zoo.yaml `protocols:`, PROTOCOLS.md §2.1, §2.2), changed by keyword.

Era fields (`gt_box_shrink`, `stage_aggregation`, `grouping_max_groups`, `box_scale_rounding`) and evaluator fields
may be given by name too; they go into the nested records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from zoo.evaluators.coco_keypoints import CocoKeypointsEvaluator
from zoo.registry.schema import BottomUpProtocol, BoxSource, Era, KeypointSchema, TopDownProtocol

_ERA_FIELDS = {f.name for f in dataclasses.fields(Era)} - {"name"}
_EVALUATOR_FIELDS = {f.name for f in dataclasses.fields(CocoKeypointsEvaluator) if f.init}


def _split(kw: dict) -> tuple[dict, dict, dict]:
    era = {k: kw.pop(k) for k in list(kw) if k in _ERA_FIELDS}
    evaluator = {k: kw.pop(k) for k in list(kw) if k in _EVALUATOR_FIELDS}
    return kw, era, evaluator


def topdown_protocol(**overrides) -> TopDownProtocol:
    """A COCO top-down GT-box protocol (flip + shift, padding 1.25, rescoring 0.2, OKS-NMS 0.9), model-zoo era."""
    kw, era, evaluator = _split(dict(overrides))
    fields = dict(
        flip=True, scales=(1.0,), boxes=BoxSource(kind="gt"), padding=1.25, shift_heatmap=True, vis_thr=0.2,
        oks_nms_thr=0.9, decoder="default", affine="standard", kernel=11, precision="fp32",
        era=Era(name="test", **era),
        evaluator=CocoKeypointsEvaluator(**{"library": "xtcocotools", "sigmas": "coco", **evaluator}),
    )  # fmt: skip
    fields.update(kw)
    return TopDownProtocol(**fields)


def bottomup_protocol(**overrides) -> BottomUpProtocol:
    """A COCO bottom-up protocol (test_cfg of PROTOCOLS.md §2.2: flip, 30 people, thresholds 0.1 / 1, NMS 5, adjust,
    refine), scale 1, in MMPose 0.29's era: "direct" stage aggregation, no grouping truncation."""
    kw, era, evaluator = _split(dict(overrides))
    fields = dict(
        flip=True, scales=(1.0,), max_num_people=30, detection_threshold=0.1, tag_threshold=1.0, nms_kernel=5,
        adjust=True, refine=True, affine="standard",
        era=Era(name="test", **{"stage_aggregation": "direct", **era}),
        evaluator=CocoKeypointsEvaluator(**{"library": "xtcocotools", "sigmas": "coco", **evaluator}),
    )  # fmt: skip
    fields.update(kw)
    fields["scales"] = tuple(float(s) for s in fields["scales"])
    return BottomUpProtocol(**fields)


def keypoint_schema(
    num_keypoints: int,
    flip_pairs: Sequence[tuple[int, int]] = (),
    *,
    grouping_order: Sequence[int] | None = None,
    sigmas: Sequence[float] | None = None,
    name: str = "test",
) -> KeypointSchema:
    """A schema of K numbered joints with these flip pairs (and grouping order: identity by default)."""
    return KeypointSchema(
        name=name,
        keypoints=tuple(f"joint{k}" for k in range(num_keypoints)),
        flip_pairs=tuple((int(a), int(b)) for a, b in flip_pairs),
        sigmas=tuple(sigmas) if sigmas is not None else None,
        grouping_order=tuple(grouping_order) if grouping_order is not None else tuple(range(num_keypoints)),
    )
