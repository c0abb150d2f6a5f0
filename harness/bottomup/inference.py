"""Bottom-up (AE / HigherHRNet) inference of one image and of an annotation file (PROTOCOLS.md §2.3, §4, §5).

Running the model is separate from scoring it: these functions return COCO results dicts (image_id,
category_id 1, keypoints flat [x, y, val] * K, score), with no NMS and no rescoring (PROTOCOLS.md §4 step 8);
harness.metrics scores them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.bottomup import udp
from harness.bottomup.aggregate import ScaleAccumulator, scale_maps
from harness.bottomup.finite import all_finite
from harness.bottomup.parallel import GroupingPool, group_image
from harness.bottomup.resize import ScalePlan, plan_scales, resize_image, to_input_tensor
from harness.data.annotations import coco_tables, read_json
from harness.data.images import read_image
from harness.errors import BottomUpConfigError, ModelOutputError
from zoo.registry.schema import BottomUpProtocol, KeypointSchema


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
    model: torch.nn.Module,
    image_rgb: np.ndarray,
    *,
    protocol: BottomUpProtocol,
    schema: KeypointSchema,
    input_size: int,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, ScalePlan]:
    """One image -> (heatmaps [1, K, H_1, W_1], tags [1, K, H_1, W_1, L], its ScalePlan) (PROTOCOLS.md §4).

    input_size: the architecture's (square) input side, 512 or 640. The protocol's scales run in descending order;
    each scale's input is the warped image; with `protocol.flip`, the flipped pass flips that input tensor along
    its width and its maps are unflipped with the schema's flip_index. Stages aggregate as the era says.
    """
    plan = plan_scales(image_rgb.shape[:2], input_size=input_size, factors=protocol.scales)
    if protocol.affine == "udp":
        heatmaps, tags = _aggregate_udp(model, image_rgb, plan, protocol, schema, device)
        return heatmaps, tags, plan
    acc = ScaleAccumulator([g.factor for g in plan.scales])
    for geom in plan.scales:
        x = to_input_tensor(resize_image(image_rgb, geom)).to(device)
        outputs = _forward(model, x)
        outputs_flipped = _forward(model, torch.flip(x, dims=[3])) if protocol.flip else None
        heat, tags = scale_maps(
            outputs,
            outputs_flipped,
            num_keypoints=schema.num_keypoints,
            base_size_hw=plan.base_size_hw,
            aggregation=protocol.stage_aggregation,
            flip_index=schema.flip_index,
            with_tags=acc.keeps_tags(geom.factor),
        )
        acc.add(geom.factor, heat, tags)
    heatmaps, tags = acc.result()
    return heatmaps, tags, plan


def _aggregate_udp(
    model: torch.nn.Module,
    image_rgb: np.ndarray,
    plan: ScalePlan,
    protocol: BottomUpProtocol,
    schema: KeypointSchema,
    device: str | torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`aggregate_image` under UDP (PROTOCOLS.md §4 "Unbiased data processing"): maps at the output resolution of
    the largest scale, not the input's; tags from scale 1 (or the only scale)."""
    heats: list[torch.Tensor] = []
    tags: list[torch.Tensor] = []
    for geom in plan.scales:
        x = to_input_tensor(udp.resize_image(image_rgb, plan, geom)).to(device)
        outputs = _forward(model, x)
        outputs_flipped = _forward(model, torch.flip(x, dims=[3])) if protocol.flip else None
        heat, tag_maps = udp.pass_maps(outputs, outputs_flipped, k=schema.num_keypoints, flip_index=schema.flip_index)
        heats.append(heat)
        if geom.factor == 1.0 or len(plan.scales) == 1:
            tags = tag_maps
    return udp.combine_scales(heats, tags)


def predict_bottomup(
    model: torch.nn.Module,
    image_rgb: np.ndarray,
    *,
    image_id: int,
    protocol: BottomUpProtocol,
    schema: KeypointSchema,
    input_size: int,
    device: str | torch.device = "cpu",
) -> list[dict[str, Any]]:
    """COCO results of one RGB uint8 [H, W, 3] image: one dict per grouped person, in grouping order.

    keypoints: [x, y, val] * K in image pixels (float32 values); score: mean val over all K, before refine.
    """
    heatmaps, tags, plan = aggregate_image(
        model, image_rgb, protocol=protocol, schema=schema, input_size=input_size, device=device
    )
    return group_image(heatmaps, tags, plan, protocol, schema, image_id)


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
    protocol: BottomUpProtocol,
    schema: KeypointSchema,
    input_size: int,
    device: str | torch.device = "cpu",
    image_ids: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    pool: GroupingPool | None = None,
) -> list[dict[str, Any]]:
    """COCO results of EVERY image of an annotation file, in file order, including images without people
    (PROTOCOLS.md §5 "Every image is evaluated").

    protocol, schema, input_size: as `aggregate_image`. image_ids: restrict to these ids (for smoke runs), kept in
    file order. progress(done, total) is called after
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
    run = {"protocol": protocol, "schema": schema, "input_size": input_size, "device": device}
    model.eval()
    for i, img in enumerate(images):
        image = read_image(img_dir / img["file_name"])
        if ordered is None:
            results.extend(predict_bottomup(model, image, image_id=img["id"], **run))
        else:
            heatmaps, tags, plan = aggregate_image(model, image, **run)
            ordered.submit(heatmaps, tags, plan, protocol, schema, img["id"])
        if progress is not None:
            progress(i + 1, len(images))
    return ordered.drain() if ordered is not None else results
