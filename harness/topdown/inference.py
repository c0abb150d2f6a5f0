"""Batched top-down inference: crop, normalise, forward (+ flip test), decode (PROTOCOLS.md §2.3, §3).

The model is any callable `model(x: [N, 3, H, W] float32) -> [N, K, H/4, W/4]` (harness.models' PoseNet). A model
that also defines `forward_with_meta(x, meta: CropMeta)` is called through that instead and receives the crop
geometry; only test stand-ins do (tests.helpers.standin), so the real path is just `model(x)`.

Every instance is computed independently of its batch neighbours (BN is in eval mode), and results are written by
instance index, so batch size, worker count and instance order do not change any instance's output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch

from harness.data.images import ImageCache
from harness.data.records import TopdownInstance
from harness.errors import ModelOutputError
from harness.models.half import half_precision
from harness.topdown.boxes import bbox_to_center_scale, padded_box_area
from harness.topdown.crop import affine_matrices, crop_cv2, normalize_crops, udp_affine_matrices
from harness.topdown.decode import argmax_peaks, decode_default, transform_preds
from harness.topdown.flip import combine_flip
from harness.topdown.output import TopdownOutput
from harness.topdown.unbiased import dark_refine, decode_combined, decode_udp_heatmaps
from harness.topdown.warp import warp_affine_fixed_point
from zoo.registry.schema import CropBackend, KeypointSchema, TopDownProtocol


@dataclass(frozen=True, eq=False)
class CropMeta:
    """Geometry of one batch, for models that declare `forward_with_meta` (GT stand-ins).

    matrices: [B, 2, 3] float64 image -> input maps; centers, scales: [B, 2] float32; input_size (H, W);
    flipped: the input tensor is the horizontally flipped crop (PROTOCOLS.md §3 flip test).
    """

    instances: tuple[TopdownInstance, ...]
    centers: np.ndarray
    scales: np.ndarray
    matrices: np.ndarray
    input_size: tuple[int, int]
    flipped: bool
    flip_pairs: tuple[tuple[int, int], ...]


@dataclass(frozen=True, eq=False)
class _Batch:
    rows: np.ndarray
    crops: torch.Tensor | None  # cv2 backend: uint8 [B, 3, H, W] on the CPU
    images: torch.Tensor | None  # torch backend: uint8 [U, 3, Hmax, Wmax], zero-padded
    image_index: list[int]
    image_sizes: list[tuple[int, int]]


def _prepare(
    rows: np.ndarray,
    instances: Sequence[TopdownInstance],
    matrices: np.ndarray,
    cache: ImageCache,
    *,
    input_size: tuple[int, int],
    backend: CropBackend,
    pin: bool = False,
) -> _Batch:
    """Decode (once per image) and, for the cv2 backend, crop one batch. Runs in worker threads.

    pin: put the uint8 batch in page-locked memory (CUDA runs), so that its copy to the GPU is asynchronous and
    the pinning itself happens here, off the thread that drives the GPU."""
    if backend == "cv2":
        crops = [crop_cv2(cache.get(instances[r].image_path), matrices[r], output_size=input_size) for r in rows]
        stacked = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        return _Batch(rows, stacked.pin_memory() if pin else stacked, None, [], [])
    keys: dict[str, int] = {}
    images: list[np.ndarray] = []
    index = []
    for r in rows:
        key = str(instances[r].image_path)
        if key not in keys:
            keys[key] = len(images)
            images.append(cache.get(key))
        else:
            cache.get(key)  # count the use so the cache can drop the image after its last box
        index.append(keys[key])
    hmax = max(im.shape[0] for im in images)
    wmax = max(im.shape[1] for im in images)
    padded = torch.zeros((len(images), 3, hmax, wmax), dtype=torch.uint8)
    for u, im in enumerate(images):
        padded[u, :, : im.shape[0], : im.shape[1]] = torch.from_numpy(np.array(im)).permute(
            2, 0, 1
        )  # copy: cached images are read-only
    return _Batch(rows, None, padded.pin_memory() if pin else padded, index, [im.shape[:2] for im in images])


def _iter_prepared(
    batches: list[np.ndarray], prepare: Callable[[np.ndarray], _Batch], num_workers: int
) -> Iterator[_Batch]:
    """Prepared batches in order; with workers, up to 2 * num_workers batches are prepared ahead."""
    if num_workers <= 0:
        for rows in batches:
            yield prepare(rows)
        return
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        pending: deque[Future] = deque()
        todo = iter(batches)
        for rows in todo:
            pending.append(pool.submit(prepare, rows))
            if len(pending) >= 2 * num_workers:
                break
        while pending:
            yield pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(prepare, nxt))


def _forward(model: Callable, x: torch.Tensor, meta: CropMeta) -> torch.Tensor:
    with_meta = getattr(model, "forward_with_meta", None)
    if callable(with_meta):
        return with_meta(x, meta)
    if x.shape[0] == 1:
        # oneDNN runs a batch of one through other convolution kernels than any larger batch (fp32 results differ by
        # ~1e-6 relative), so a lone crop is padded to two: predictions then do not depend on the batch size
        # (tests/harness/test_evaluate_engine.py). Per-sample results of batches >= 2 agree bit for bit.
        out = model(torch.cat([x, torch.zeros_like(x)]))
        return out[:1] if isinstance(out, torch.Tensor) else out
    return model(x)


def _check_output(out: object, *, n: int, num_keypoints: int, meta: CropMeta) -> np.ndarray:
    """Model output -> numpy [B, C, h, w] (float32; float16 outputs of fp16 models stay float16, PROTOCOLS.md §3.2);
    wrong type/shape/channels or non-finite values raise. num_keypoints: the channels expected (3K for
    CombinedTarget heads)."""
    if not isinstance(out, torch.Tensor) or out.dim() != 4 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelOutputError(
            f"a top-down model must return heatmaps [N={n}, K, H/4, W/4], got {shape}; is this a top-down checkpoint?"
        )
    if out.shape[1] != num_keypoints:
        raise ModelOutputError(
            f"the checkpoint's keypoint count ({out.shape[1]} heatmap channels) does not match the dataset's "
            f"({num_keypoints} keypoints); pick the checkpoint trained on this dataset"
        )
    finite = torch.isfinite(out).flatten(1).all(dim=1).cpu().numpy()
    if not finite.all():
        bad = meta.instances[int(np.flatnonzero(~finite)[0])]
        which = "flipped" if meta.flipped else "original"
        raise ModelOutputError(
            f"the model produced non-finite heatmaps ({which} input) for image_id {bad.image_id}, bbox_id "
            f"{bad.bbox_id} ({bad.image_path}, box {bad.bbox}); {int((~finite).sum())} of {n} instances in that "
            "batch are affected: check the checkpoint, the input normalisation and fast-mode (bf16/fp16) settings"
        )
    dtype = torch.float16 if out.dtype == torch.float16 else torch.float32
    return out.detach().to(dtype).cpu().numpy()


def _memory_format(model: Callable) -> torch.memory_format:
    """channels_last when the model's first 4-D weight is stored so (tuned and fast modes, runtime.prepare_model):
    its input is then handed over in the same layout instead of being reordered by the first convolution.
    Otherwise (exact mode) contiguous, i.e. the input is left exactly as it was."""
    params = getattr(model, "parameters", None)
    for p in params() if callable(params) else ():
        if p.dim() == 4:
            cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
            return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def _batch_input(
    batch: _Batch, matrices: np.ndarray, *, input_size: tuple[int, int], device: torch.device
) -> torch.Tensor:
    """Normalised float32 [B, 3, H, W] on device (the torch backend crops there, from the padded images)."""
    # Pinned (CUDA) batches are copied asynchronously: the copy overlaps the previous batch's kernels.
    if batch.crops is not None:
        crops = batch.crops.to(device, non_blocking=batch.crops.is_pinned())
    else:
        crops = warp_affine_fixed_point(
            batch.images.to(device, non_blocking=batch.images.is_pinned()),  # type: ignore[union-attr]
            matrices[batch.rows],
            output_size=input_size,
            image_index=batch.image_index,
            image_sizes=batch.image_sizes,
        )
    return normalize_crops(crops)


def _heatmaps(
    model: Callable, x: torch.Tensor, meta: CropMeta, *, num_keypoints: int, flip: bool, shift: bool, combined: bool
) -> np.ndarray:
    """[B, C, h, w] heatmaps of one batch (float32, or float16 from fp16 models), flip-test combined when asked
    (PROTOCOLS.md §3); combined: CombinedTarget outputs, C = 3K (PROTOCOLS.md §3.1)."""
    n = x.shape[0]
    channels = 3 * num_keypoints if combined else num_keypoints
    hm = _check_output(_forward(model, x, meta), n=n, num_keypoints=channels, meta=meta)
    k = num_keypoints
    if any(max(p) >= k for p in meta.flip_pairs):
        raise ModelOutputError(f"flip pairs {meta.flip_pairs} refer to joints beyond the model's {k} heatmap channels")
    if not flip:
        return hm
    # PROTOCOLS.md §3: the flip test runs the horizontally flipped input TENSOR, not a re-crop.
    meta_f = CropMeta(meta.instances, meta.centers, meta.scales, meta.matrices, meta.input_size, True, meta.flip_pairs)
    hm_f = _check_output(_forward(model, x.flip(3), meta_f), n=n, num_keypoints=channels, meta=meta_f)
    return combine_flip(hm, hm_f, flip_pairs=meta.flip_pairs, shift=shift, combined=combined)


def decode(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray, protocol: TopDownProtocol) -> np.ndarray:
    """Keypoints [N, K, 3] float32 (x, y, maxval) of one batch's heatmaps [N, K or 3K, H, W] under the protocol's
    decoder (PROTOCOLS.md §3, §3.1); fp16 heatmaps are decoded from their exact float32 values."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    if protocol.decoder == "default":
        return decode_default(hm, centers, scales)
    if protocol.decoder == "dark":
        coords, maxvals = argmax_peaks(hm)
        coords = dark_refine(hm, coords, protocol.kernel)
    elif protocol.decoder == "udp":
        coords, maxvals = decode_udp_heatmaps(hm, protocol.kernel)
    else:
        coords, maxvals = decode_combined(hm, protocol.kernel)
    udp = protocol.decoder != "dark"
    xy = transform_preds(coords, centers, scales, heatmap_size=hm.shape[2:], udp=udp)
    return np.concatenate([xy, maxvals[..., None]], axis=-1).astype(np.float32)


def given_center_scale(
    instances: Sequence[TopdownInstance], centers: np.ndarray, scales: np.ndarray, *, padding: float
) -> None:
    """Where an instance carries its own center and scale (MPII, PROTOCOLS.md §11), they replace the box's, in
    place: the center as given, the scale times `padding` in float32 (the reference scales its float32 array)."""
    for row, inst in enumerate(instances):
        if inst.center is not None and inst.scale is not None:
            centers[row] = np.asarray(inst.center, dtype=np.float32)
            scales[row] = np.float32(inst.scale) * np.float32(padding)


def predict_topdown(
    model: Callable[[torch.Tensor], torch.Tensor],
    instances: Sequence[TopdownInstance],
    *,
    protocol: TopDownProtocol,
    schema: KeypointSchema,
    input_size: tuple[int, int],
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    crop_backend: CropBackend = "cv2",
    num_workers: int = 0,
    progress: bool = False,
) -> TopdownOutput:
    """Run a top-down model over instances under a row's protocol; input_size is the architecture's (H, W).

    PROTOCOLS.md §3: center/scale with `protocol.padding` (rounded as the era's box_scale_rounding,
    `bbox_to_center_scale`; an instance's own center and scale where it has them, `given_center_scale`), affine
    crop (cv2.warpAffine, or its integer-exact torch twin on `device` with
    crop_backend="torch"), /255 + ImageNet normalisation, forward; with `protocol.flip`, a second forward of the
    horizontally flipped input TENSOR, flipped back (the schema's pairs swapped, mirrored, shifted if
    `protocol.shift_heatmap`) and averaged; decoded by `protocol.decoder`. PROTOCOLS.md §3.1: `protocol.affine`
    "udp" crops with UDP's matrix; §3.2: `protocol.precision` "fp16" runs a half copy of the model. The model's
    channel count is checked against the schema's keypoints (3 per keypoint for the udp-combined decoder). The other
    settings (device, batch size, crop backend, workers) never change a prediction.
    """
    if crop_backend not in get_args(CropBackend):
        raise ValueError(f"crop_backend must be one of {get_args(CropBackend)}, got {crop_backend!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    instances = tuple(instances)
    num_keypoints = schema.num_keypoints
    device = torch.device(device)
    pin = device.type == "cuda"
    n = len(instances)
    boxes = np.array([i.bbox for i in instances], dtype=np.float64).reshape(n, 4)
    centers, scales = bbox_to_center_scale(
        boxes, input_size=input_size, padding=protocol.padding, scale_rounding=protocol.era.box_scale_rounding
    )
    given_center_scale(instances, centers, scales, padding=protocol.padding)
    crop_matrices = udp_affine_matrices if protocol.affine == "udp" else affine_matrices
    matrices = crop_matrices(centers, scales, output_size=input_size)
    if protocol.precision == "fp16":
        model = half_precision(model)
    keypoints = np.zeros((n, num_keypoints, 3), dtype=np.float32)
    cache = ImageCache([i.image_path for i in instances])
    batches = [np.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]

    def prepare(rows: np.ndarray) -> _Batch:
        return _prepare(rows, instances, matrices, cache, input_size=input_size, backend=crop_backend, pin=pin)

    prepared = _iter_prepared(batches, prepare, num_workers)
    if progress:
        from tqdm.auto import tqdm

        prepared = tqdm(prepared, total=len(batches), desc="top-down", unit="batch")
    memory_format = _memory_format(model)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.inference_mode():
            for batch in prepared:
                x = _batch_input(batch, matrices, input_size=input_size, device=device)
                if memory_format is torch.channels_last:
                    x = x.contiguous(memory_format=memory_format)
                meta = CropMeta(
                    tuple(instances[r] for r in batch.rows), centers[batch.rows], scales[batch.rows],
                    matrices[batch.rows], tuple(input_size), False, schema.flip_pairs,
                )  # fmt: skip
                hm = _heatmaps(
                    model, x, meta, num_keypoints=num_keypoints, flip=protocol.flip, shift=protocol.shift_heatmap,
                    combined=protocol.decoder == "udp-combined",
                )  # fmt: skip
                keypoints[batch.rows] = decode(hm, meta.centers, meta.scales, protocol)
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    return TopdownOutput(
        keypoints=keypoints,
        centers=centers,
        scales=scales,
        areas=padded_box_area(scales),
        bbox_scores=np.array([i.bbox_score for i in instances], dtype=np.float32),
        bbox_ids=np.array([i.bbox_id for i in instances], dtype=np.int64),
        image_ids=np.array([i.image_id for i in instances], dtype=np.int64),
    )
