"""Resumable prediction: a run's items (top-down instances, bottom-up image ids) in chunks, each computed once,
saved atomically (ChunkStore) and reused by a resumed run with the same identity (harness.engine).

Chunks are also the unit shared out over torchrun ranks (harness.distributed). Per-instance and per-image
predictions do not depend on their chunk neighbours, so the chunking never changes a prediction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import identity, results, runtime
from harness.data import images
from zoo.registry.schema import KeypointSchema

if TYPE_CHECKING:
    from harness.spec import EvalSpec

log = logging.getLogger(__name__)


class ChunkStore:
    """Finished chunks of one run identity, each written atomically with what it covers; an interrupted run keeps
    what finished. A chunk is reused only when its metadata says it was computed by the same run (run key), for the
    same items (their digest and count) from the same image files (size and mtime); a damaged or mismatched chunk is
    dropped with a warning naming it, and computed again. Each chunk also records the sha256 of the image bytes it
    decoded (`decoded`, harness.data.images.recording), so a resumed run still knows what its predictions came from."""

    def __init__(self, folder: Path, run_key: str = "") -> None:
        self.folder = folder
        self.run_key = run_key
        #: chunk index -> {image path: sha256 of the bytes decoded}, of the chunks loaded by this store
        self.decoded: dict[int, dict[str, str]] = {}

    def path(self, index: int, suffix: str) -> Path:
        return self.folder / f"chunk_{index:05d}{suffix}"

    def meta(self, items_digest: str, count: int, image_paths) -> dict:
        return {
            "run_key": self.run_key,
            "items": items_digest,
            "count": count,
            "images": identity.image_stats(image_paths),
        }

    def _check(self, path: Path, meta: Any, expected: dict) -> str | None:
        """Why a stored chunk cannot be reused (None when it can)."""
        if not isinstance(meta, dict):
            return "it has no metadata"
        for key in ("run_key", "items", "count"):
            if meta.get(key) != expected[key]:
                return f"its {key} differs ({meta.get(key)!r}, expected {expected[key]!r})"
        decoded = meta.get("decoded")
        if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
            return "it does not record the image bytes it decoded (an older harness wrote it)"
        if meta.get("images") != expected["images"]:
            changed = [p for p, st in expected["images"].items() if (meta.get("images") or {}).get(p) != st]
            return f"{len(changed)} image file(s) changed since it was computed (first: {changed[:1]})"
        return None

    def _drop(self, path: Path, why: str) -> None:
        log.warning("chunk %s cannot be reused: %s; computing it again", path, why)
        path.unlink(missing_ok=True)

    def load_topdown(self, index: int, expected: dict):
        from harness.topdown.output import TopdownOutput

        path = self.path(index, ".npz")
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["_meta"]))
                out = TopdownOutput(**{f.name: z[f.name] for f in dataclasses.fields(TopdownOutput)})
        except Exception as exc:  # a truncated or foreign file: any failure to read means "not reusable"
            self._drop(path, f"it cannot be read ({type(exc).__name__}: {exc})")
            return None
        why = self._check(path, meta, expected) or (
            None if len(out) == expected["count"] else f"it holds {len(out)} rows, expected {expected['count']}"
        )
        if why:
            self._drop(path, why)
            return None
        self.decoded[index] = meta["decoded"]
        return out

    def save_topdown(self, index: int, out, meta: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(index, ".npz")
        tmp = path.with_suffix(".tmp.npz")
        fields = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
        np.savez(tmp, _meta=np.array(json.dumps(meta)), **fields)
        tmp.replace(path)

    def load_json(self, index: int, expected: dict) -> list[dict] | None:
        path = self.path(index, ".json")
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text())
            meta, records = doc["meta"], doc["records"]
            if not isinstance(records, list):
                raise TypeError("records is not a list")
        except Exception as exc:  # truncated, not JSON, or an older format
            self._drop(path, f"it cannot be read ({type(exc).__name__}: {exc})")
            return None
        why = self._check(path, meta, expected)
        if why:
            self._drop(path, why)
            return None
        self.decoded[index] = meta["decoded"]
        return records

    def save_json(self, index: int, records: list[dict], meta: dict) -> None:
        results.write_json_atomic(self.path(index, ".json"), {"meta": meta, "records": records}, indent=None)

    def missing(self, count: int) -> list[int]:
        """Indices of the chunks 0..count-1 that have no file here (either kind) yet."""
        return [i for i in range(count) if not (self.path(i, ".npz").exists() or self.path(i, ".json").exists())]

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


def part_range(part: int, parts: int, count: int) -> range:
    """The chunk indices of part `part` (0-based) of `parts` contiguous, near-equal parts of `count` chunks: how one
    row is split over several jobs. Every chunk is in exactly one part; a part may be empty when parts > count."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}")
    return range(part * count // parts, (part + 1) * count // parts)


#: What computing a share of the chunks returns: {chunk index: output}, the counts of reused and computed chunks,
#: and {image path: sha256} of the image bytes those chunks decoded.
Share = tuple[dict[int, Any], int, int, dict[str, str]]


def _compute_chunks(
    spec: EvalSpec,
    chunks: list,
    model_factory: Callable,
    store: ChunkStore,
    *,
    indices: list[int],
    progress,
    load: Callable[[int, dict], Any],
    save: Callable[[int, Any, dict], None],
    predict: Callable[[Any, Any], Any],
    expected: Callable[[Any], dict],
) -> Share:
    """{chunk index: output} of the chunks at `indices`, each loaded when saved and still valid (load(index,
    expected) -> None otherwise) or else predicted (predict(model, items), the model built on first need) and saved
    with its metadata and the digests of the image bytes it decoded; see `Share`."""
    parts, reused, computed, model = {}, 0, 0, None
    decoded: dict[str, str] = {}
    for index in indices:
        items = chunks[index]
        meta = expected(items)
        out = load(index, meta)
        if out is not None:
            reused += 1
            decoded.update(store.decoded[index])
        else:
            model = model or model_factory()
            with runtime.autocast(spec.settings), images.recording() as seen:
                out = predict(model, items)
            save(index, out, {**meta, "decoded": dict(seen)})
            computed += 1
            decoded.update(seen)
        parts[index] = out
        progress.update(len(items))
    return parts, reused, computed, decoded


def compute_topdown_chunks(
    spec: EvalSpec,
    chunks: list[tuple],
    schema: KeypointSchema,
    model_factory: Callable,
    store: ChunkStore,
    *,
    indices: list[int],
    progress,
) -> Share:
    """Raw outputs {chunk index: TopdownOutput} of the instance chunks at `indices`; see `Share`."""
    from harness.topdown.inference import predict_topdown

    def expected(chunk: tuple) -> dict:
        keys = ((i.image_id, i.bbox_id, i.bbox, i.bbox_score, str(i.image_path)) for i in chunk)
        return store.meta(identity.items_digest(keys), len(chunk), (i.image_path for i in chunk))

    def predict(model, chunk: tuple):
        return predict_topdown(
            model, chunk, protocol=spec.protocol, schema=schema, input_size=spec.entry.architecture.input_size,
            device=spec.settings.device, batch_size=spec.batch_size, crop_backend=spec.crop_backend,
            num_workers=spec.num_workers,
        )  # fmt: skip

    return _compute_chunks(
        spec, chunks, model_factory, store, indices=indices, progress=progress, load=store.load_topdown,
        save=store.save_topdown, predict=predict, expected=expected,
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
    image_files: dict[int, Path],
) -> Share:
    """COCO results {chunk index: records} of the image-id chunks at `indices`; see `Share`."""
    from harness.bottomup.inference import predict_bottomup_dataset
    from harness.bottomup.parallel import grouping_pool

    input_size = spec.entry.architecture.input_size[0]  # square bottom-up inputs (512 or 640)
    pools = contextlib.ExitStack()
    pool: list = []  # spec.num_workers grouping processes, started when the first chunk is computed

    def predict(model, ids: list[int]) -> list[dict]:
        if not pool:
            pool.append(pools.enter_context(grouping_pool(spec.num_workers)))
        return predict_bottomup_dataset(
            model, spec.data.ann_file, spec.data.img_dir, protocol=spec.protocol, schema=schema, input_size=input_size,
            device=spec.settings.device, image_ids=ids, pool=pool[0],
        )  # fmt: skip

    def expected(ids: list[int]) -> dict:
        return store.meta(identity.items_digest(ids), len(ids), (image_files[i] for i in ids))

    with pools:
        return _compute_chunks(
            spec, chunks, model_factory, store, indices=indices, progress=progress, load=store.load_json,
            save=store.save_json, predict=predict, expected=expected,
        )  # fmt: skip


def bottomup_chunk_images(chunk_size: int) -> int:
    return max(1, chunk_size // 32)  # images are much heavier than crops
