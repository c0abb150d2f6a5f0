"""Resumable prediction: a run's items (top-down instances, bottom-up image ids) in chunks, each computed once,
saved atomically (ChunkStore) and reused by a resumed run with the same identity (harness.evaluate).

Chunks are also the unit shared out over torchrun ranks (harness.distributed). Per-instance and per-image
predictions do not depend on their chunk neighbours, so the chunking never changes a prediction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import results, runtime
from zoo.schema import KeypointSchema

if TYPE_CHECKING:
    from harness.evaluate import EvalSpec


class ChunkStore:
    """Finished chunks of one run identity, each written atomically; an interrupted run keeps what finished."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, index: int, suffix: str) -> Path:
        return self.folder / f"chunk_{index:05d}{suffix}"

    def load_topdown(self, index: int):
        from harness.topdown.output import TopdownOutput

        path = self.path(index, ".npz")
        if not path.exists():
            return None
        with np.load(path) as z:
            return TopdownOutput(**{f.name: z[f.name] for f in dataclasses.fields(TopdownOutput)})

    def save_topdown(self, index: int, out) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(index, ".npz")
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f.name: getattr(out, f.name) for f in dataclasses.fields(out)})
        tmp.replace(path)

    def load_json(self, index: int) -> list[dict] | None:
        path = self.path(index, ".json")
        return json.loads(path.read_text()) if path.exists() else None

    def save_json(self, index: int, records: list[dict]) -> None:
        results.write_json_atomic(self.path(index, ".json"), records, indent=None)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _concat_topdown(parts: list):
    from harness.topdown.output import TopdownOutput

    return TopdownOutput(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(TopdownOutput)}
    )


def progress_bar(total: int, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc="evaluate", disable=not enabled, dynamic_ncols=True)


def split_chunks(items: tuple | list, size: int) -> list:
    """Consecutive chunks of `size` items: the unit of resume (ChunkStore) and of sharding over ranks."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def _compute_chunks(
    spec: EvalSpec,
    chunks: list,
    model_factory: Callable,
    *,
    indices: list[int],
    progress,
    load: Callable[[int, Any], Any],
    save: Callable[[int, Any], None],
    predict: Callable[[Any, Any], Any],
) -> tuple[dict[int, Any], int, int]:
    """{chunk index: output} of the chunks at `indices`, each loaded when saved (load(index, items) -> None when
    absent) or else predicted (predict(model, items), the model built on first need) and saved; with the counts of
    reused and computed chunks."""
    parts, reused, computed, model = {}, 0, 0, None
    for index in indices:
        items = chunks[index]
        out = load(index, items)
        if out is not None:
            reused += 1
        else:
            model = model or model_factory()
            with runtime.autocast(spec.settings):
                out = predict(model, items)
            save(index, out)
            computed += 1
        parts[index] = out
        progress.update(len(items))
    return parts, reused, computed


def compute_topdown_chunks(
    spec: EvalSpec,
    chunks: list[tuple],
    schema: KeypointSchema,
    model_factory: Callable,
    store: ChunkStore,
    *,
    indices: list[int],
    progress,
) -> tuple[dict[int, Any], int, int]:
    """Raw outputs {chunk index: TopdownOutput} of the instance chunks at `indices`, with reused/computed counts."""
    from harness.topdown.inference import predict_topdown

    arch, p = spec.entry.architecture, spec.protocol

    def load(index: int, chunk: tuple):
        out = store.load_topdown(index)
        return out if out is not None and len(out) == len(chunk) else None

    def predict(model, chunk: tuple):
        return predict_topdown(
            model,
            chunk,
            input_size=arch.input_size,
            padding=p.padding,
            flip=p.flip,
            shift_heatmap=p.shift_heatmap,
            flip_pairs=schema.flip_pairs,
            device=spec.settings.device,
            batch_size=spec.batch_size,
            crop_backend=spec.crop_backend,
            num_keypoints=schema.num_keypoints,
            scale_rounding=p.era.box_scale_rounding,
            num_workers=spec.num_workers,
        )

    return _compute_chunks(
        spec, chunks, model_factory, indices=indices, progress=progress, load=load, save=store.save_topdown,
        predict=predict,
    )  # fmt: skip


def topdown_predictions(spec: EvalSpec, schema: KeypointSchema, parts: list) -> list[dict]:
    """COCO results from the raw outputs of every chunk, in chunk order (rescoring and OKS-NMS need them all)."""
    from harness.topdown.postprocess import to_coco_results

    if not parts:
        return []
    p = spec.protocol
    sigmas = schema.sigmas if p.oks_nms_thr is not None else None
    # Horse-10 rows have no rescoring/NMS (vis_thr None): the score is then the box score, as the reference writes it.
    return to_coco_results(_concat_topdown(parts), vis_thr=p.vis_thr, oks_nms_thr=p.oks_nms_thr, sigmas=sigmas)


def compute_bottomup_chunks(
    spec: EvalSpec,
    chunks: list[list[int]],
    schema: KeypointSchema,
    model_factory: Callable,
    store: ChunkStore,
    *,
    indices: list[int],
    progress,
) -> tuple[dict[int, list[dict]], int, int]:
    """COCO results {chunk index: records} of the image-id chunks at `indices`, with reused/computed counts."""
    from harness.bottomup.inference import BottomUpParams, predict_bottomup_dataset
    from harness.bottomup.parallel import grouping_pool

    arch = spec.entry.architecture
    params = BottomUpParams.from_protocol(spec.protocol, schema, input_size=arch.input_size[0])
    pools = contextlib.ExitStack()
    pool: list = []  # spec.num_workers grouping processes, started when the first chunk is computed

    def predict(model, ids: list[int]) -> list[dict]:
        if not pool:
            pool.append(pools.enter_context(grouping_pool(spec.num_workers)))
        return predict_bottomup_dataset(
            model, spec.data.ann_file, spec.data.img_dir, params=params, device=spec.settings.device, image_ids=ids,
            pool=pool[0],
        )  # fmt: skip

    with pools:
        return _compute_chunks(
            spec, chunks, model_factory, indices=indices, progress=progress,
            load=lambda index, _ids: store.load_json(index), save=store.save_json, predict=predict,
        )  # fmt: skip


def bottomup_chunk_images(chunk_size: int) -> int:
    return max(1, chunk_size // 32)  # images are much heavier than crops
