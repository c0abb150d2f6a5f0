"""Bottom-up (AE / HigherHRNet) inference of one image and of an annotation file (PROTOCOLS.md §2.3, §4, §5).

Running the model is separate from scoring it: these functions return COCO results dicts (image_id,
category_id 1, keypoints flat [x, y, val] * K, score), with no NMS and no rescoring (PROTOCOLS.md §4 step 8);
harness.metrics scores them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.bottomup.aggregate import AGGREGATIONS, Aggregation, ScaleAccumulator, scale_maps
from harness.bottomup.finite import all_finite
from harness.bottomup.grouping import GroupingParams
from harness.bottomup.parallel import GroupingPool, group_image
from harness.bottomup.resize import ScalePlan, plan_scales, resize_image, to_input_tensor
from harness.data.annotations import coco_tables, read_json
from harness.data.images import read_image
from harness.errors import BottomUpConfigError, ModelOutputError
from zoo.schema import KeypointSchema, Protocol


@dataclass(frozen=True)
class BottomUpParams:
    """Everything the bottom-up protocol needs besides the model (PROTOCOLS.md §2.1, §2.2, §4, §7).

    input_size: the config's image_size (512 or 640). scales: test_scale_factor. stage_aggregation /
    grouping_max_groups: the era's (§7, §8 item 10).
    """

    input_size: int
    num_keypoints: int
    flip_index: tuple[int, ...]
    joint_order: tuple[int, ...]
    scales: tuple[float, ...] = (1.0,)
    flip: bool = True
    stage_aggregation: Aggregation = "direct"
    grouping_max_groups: int | None = None
    max_num_people: int = 30
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    nms_kernel: int = 5
    adjust: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        k = self.num_keypoints
        if sorted(self.flip_index) != list(range(k)) or sorted(self.joint_order) != list(range(k)):
            raise BottomUpConfigError(
                f"flip_index {list(self.flip_index)} and joint_order {list(self.joint_order)} must both be "
                f"permutations of 0..{k - 1}; take them from the keypoint schema"
            )
        if self.stage_aggregation not in AGGREGATIONS:
            raise BottomUpConfigError(
                f"stage_aggregation {self.stage_aggregation!r} is unknown; expected one of {AGGREGATIONS}"
            )
        if self.input_size <= 0 or self.max_num_people <= 0:
            raise BottomUpConfigError(
                f"input_size ({self.input_size}) and max_num_people ({self.max_num_people}) must be positive"
            )

    @classmethod
    def from_protocol(cls, protocol: Protocol, schema: KeypointSchema, *, input_size: int) -> BottomUpParams:
        """The parameters of a registry row. An era without stage_aggregation (single-stage AE, where both
        variants coincide) runs "direct"."""
        if protocol.paradigm != "bottomup":
            raise BottomUpConfigError(f"protocol paradigm is {protocol.paradigm!r}; expected 'bottomup'")
        missing = [
            name
            for name in ("max_num_people", "detection_threshold", "tag_threshold", "nms_kernel")
            if getattr(protocol, name) is None
        ]
        if missing:
            raise BottomUpConfigError(f"bottom-up protocol lacks {missing}; set them in zoo.yaml (PROTOCOLS.md §2.2)")
        return cls(
            input_size=int(input_size),
            num_keypoints=schema.num_keypoints,
            flip_index=tuple(schema.flip_index),
            joint_order=tuple(schema.grouping_order),
            scales=tuple(float(s) for s in protocol.scales),
            flip=protocol.flip,
            stage_aggregation=protocol.era.stage_aggregation or "direct",
            grouping_max_groups=protocol.era.grouping_max_groups,
            max_num_people=int(protocol.max_num_people),
            detection_threshold=float(protocol.detection_threshold),
            tag_threshold=float(protocol.tag_threshold),
            nms_kernel=int(protocol.nms_kernel),
            adjust=protocol.adjust,
            refine=protocol.refine,
        )

    def grouping(self) -> GroupingParams:
        return GroupingParams(
            joint_order=self.joint_order,
            max_num_people=self.max_num_people,
            detection_threshold=self.detection_threshold,
            tag_threshold=self.tag_threshold,
            nms_kernel=self.nms_kernel,
            max_groups=self.grouping_max_groups,
            adjust=self.adjust,
            refine=self.refine,
        )


def _forward(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    out = model(x)
    # float32 whatever the model computed in (autocast): the reference aggregates and groups in float32.
    outputs = [o.float() for o in ([out] if isinstance(out, torch.Tensor) else out)]
    for o in outputs:
        if not all_finite(o):
            raise ModelOutputError("the model output contains NaN or infinity; check the weights and the input")
    return outputs


@torch.no_grad()
def aggregate_image(
    model: torch.nn.Module, image_rgb: np.ndarray, *, params: BottomUpParams, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, ScalePlan]:
    """One image -> (heatmaps [1, K, H_1, W_1], tags [1, K, H_1, W_1, L], its ScalePlan) (PROTOCOLS.md §4).

    Scales run in descending order; each scale's input is the warped image, the flipped pass flips that input
    tensor along its width.
    """
    plan = plan_scales(image_rgb.shape[:2], input_size=params.input_size, factors=params.scales)
    acc = ScaleAccumulator([g.factor for g in plan.scales])
    for geom in plan.scales:
        x = to_input_tensor(resize_image(image_rgb, geom)).to(device)
        outputs = _forward(model, x)
        outputs_flipped = _forward(model, torch.flip(x, dims=[3])) if params.flip else None
        heat, tags = scale_maps(
            outputs,
            outputs_flipped,
            num_keypoints=params.num_keypoints,
            base_size_hw=plan.base_size_hw,
            aggregation=params.stage_aggregation,
            flip_index=params.flip_index if params.flip else None,
            with_tags=acc.keeps_tags(geom.factor),
        )
        acc.add(geom.factor, heat, tags)
    heatmaps, tags = acc.result()
    return heatmaps, tags, plan


def predict_bottomup(
    model: torch.nn.Module,
    image_rgb: np.ndarray,
    *,
    image_id: int,
    params: BottomUpParams,
    device: str | torch.device = "cpu",
) -> list[dict[str, Any]]:
    """COCO results of one RGB uint8 [H, W, 3] image: one dict per grouped person, in grouping order.

    keypoints: [x, y, val] * K in image pixels (float32 values); score: mean val over all K, before refine.
    """
    heatmaps, tags, plan = aggregate_image(model, image_rgb, params=params, device=device)
    return group_image(heatmaps, tags, plan, params.grouping(), image_id)


def _image_records(ann_file: Path) -> list[dict[str, Any]]:
    """The image records of an annotation file, in file order; parsed once per file version (callers run it chunk
    by chunk, and COCO's val2017 json is ~10 MB)."""
    try:
        st = ann_file.stat()
    except OSError:
        st = None
    key = (str(ann_file.resolve()), st.st_mtime_ns if st else None, st.st_size if st else None)
    return list(_image_records_cached(*key))


@functools.lru_cache(maxsize=4)
def _image_records_cached(path: str, _mtime: int | None, _size: int | None) -> tuple[dict[str, Any], ...]:
    images, _ = coco_tables(read_json(path, what="annotation file"), Path(path))
    return tuple({"id": img["id"], "file_name": img["file_name"]} for img in images)


def predict_bottomup_dataset(
    model: torch.nn.Module,
    ann_file: str | Path,
    img_dir: str | Path,
    *,
    params: BottomUpParams,
    device: str | torch.device = "cpu",
    image_ids: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    pool: GroupingPool | None = None,
) -> list[dict[str, Any]]:
    """COCO results of EVERY image of an annotation file, in file order, including images without people
    (PROTOCOLS.md §5, "In test mode every image id of the json is evaluated").

    image_ids: restrict to these ids (for smoke runs), kept in file order. progress(done, total) is called after
    each image's forward passes. pool: group each image in these worker processes while the model runs on the
    next (harness/bottomup/parallel.py; the same records, bit for bit); None groups serially.
    """
    ann_file, img_dir = Path(ann_file), Path(img_dir)
    images = _image_records(ann_file)
    if image_ids is not None:
        wanted = set(image_ids)
        unknown = wanted - {img["id"] for img in images}
        if unknown:
            raise BottomUpConfigError(f"image ids {sorted(unknown)[:10]} are not in {ann_file}")
        images = [img for img in images if img["id"] in wanted]
    results: list[dict[str, Any]] = []
    ordered = pool.ordered() if pool is not None else None
    grouping = params.grouping()
    model.eval()
    for i, img in enumerate(images):
        image = read_image(img_dir / img["file_name"])
        if ordered is None:
            results.extend(predict_bottomup(model, image, image_id=img["id"], params=params, device=device))
        else:
            heatmaps, tags, plan = aggregate_image(model, image, params=params, device=device)
            ordered.submit(heatmaps, tags, plan, grouping, img["id"])
        if progress is not None:
            progress(i + 1, len(images))
    return ordered.drain() if ordered is not None else results
