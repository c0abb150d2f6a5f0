"""Evaluate one documented result row end to end: data -> model -> predictions (resumable) -> metrics -> files.

Running the model is separate from scoring it (STYLE.md principle 5): predictions are computed in chunks that are
saved as they finish, so an interrupted run (Ctrl-C, a lost machine) resumes where it stopped when started again
with the same identity (entry, row, protocol, overrides, data, checkpoint, device and numeric mode). Per-instance
(top-down) and per-image (bottom-up) predictions do not depend on their neighbours (batch-size invariance is
tested), so a resumed run gives the same predictions as an uninterrupted one. Only a complete run writes
predictions.json / metrics.json / result.json.

The same chunks are the unit of data-parallel evaluation under torchrun (harness.distributed): chunk i runs on rank
i % WORLD_SIZE, rank 0 gathers the raw outputs once and alone post-processes, scores and writes, so the files are
bit-identical to a single-process run's, and a run resumes with any world size.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import results, runtime
from harness.checkpoints.hashing import file_sha256
from harness.chunks import (
    ChunkStore,
    bottomup_chunk_images,
    compute_bottomup_chunks,
    compute_topdown_chunks,
    progress_bar,
    split_chunks,
    topdown_predictions,
)
from harness.data.annotations import coco_tables, read_json
from harness.errors import DataError, HarnessError
from harness.protocols import describe
from zoo.history import SCHEMA_VERSION
from zoo.schema import Entry, KeypointSchema, Protocol, Registry, Result

if TYPE_CHECKING:
    import torch

#: Bumped whenever a change makes earlier chunk caches unusable (their predictions would differ).
PREDICTION_FORMAT = 1


@dataclass(frozen=True)
class DataPaths:
    ann_file: Path
    img_dir: Path
    bbox_file: Path | None = None
    #: True when the paths come from the dataset's reference layout (--data-root), not hand-picked files.
    reference_layout: bool = False


@dataclass(frozen=True)
class EvalSpec:
    """Everything that decides a run's predictions and metrics (plus how fast it goes)."""

    entry: Entry
    result: Result
    protocol_name: str
    protocol: Protocol  # resolved, overrides applied
    overrides: Mapping[str, Any]
    data: DataPaths
    checkpoint: Path
    settings: runtime.RunSettings
    batch_size: int = 32
    limit: int | None = None  # the first N images of the annotation file
    crop_backend: str = "cv2"
    num_workers: int = 0
    #: Resume granularity: instances (top-down) or images (bottom-up) per saved chunk.
    chunk_size: int = 512
    #: "library" (the evaluator of record) or "fast" (harness.metrics.fast_coco, proven bit-identical to it on every
    #: test run; falls back to the library for inputs it does not model). Same numbers, so not part of the identity.
    scoring: str = "library"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    out_dir: Path
    predictions: list[dict]
    scored: dict
    record: dict
    reused_chunks: int  # summed over ranks under torchrun
    computed_chunks: int
    #: False on the ranks > 0 of a torchrun run: they wrote nothing and hold no predictions (same metrics/record).
    written: bool = True


# ---------------------------------------------------------------------------------------------------------------
# data selection


def select_images(gt: Mapping[str, Any], ann_file: Path, limit: int | None) -> list[int]:
    """Image ids in annotation-file order (the reference's order), the first `limit` of them when given."""
    images, _ = coco_tables(gt, ann_file)
    ids = [img["id"] for img in images]
    if limit is not None:
        if limit < 1:
            raise HarnessError(f"--limit must be at least 1, got {limit}")
        ids = ids[:limit]
    return ids


def subset_gt(gt: Mapping[str, Any], image_ids: list[int]) -> dict[str, Any]:
    """The annotation file restricted to some images, so that a --limit run is scored against its own images."""
    keep = set(image_ids)
    out = dict(gt)
    out["images"] = [img for img in gt["images"] if img["id"] in keep]
    out["annotations"] = [a for a in gt.get("annotations", []) if a["image_id"] in keep]
    return out


def load_instances(spec: EvalSpec, schema: KeypointSchema):
    """Top-down instances per the row's box source (PROTOCOLS.md §2.1, §5)."""
    from harness.data.coco_style import load_detection_instances, load_gt_instances
    from harness.data.horse10 import load_horse10_instances

    p, d = spec.protocol, spec.data
    if p.boxes is not None and p.boxes.kind == "detector":
        if d.bbox_file is None:
            raise DataError(
                f"{spec.result.row_id} uses detector boxes ({p.boxes.file}); pass --bbox-file F or use --data-root"
            )
        return load_detection_instances(
            d.bbox_file, ann_file=d.ann_file, img_dir=d.img_dir, score_threshold=p.boxes.score_threshold
        )
    if p.evaluator.kind == "pck_nme":
        # Horse-10 (PROTOCOLS.md §5): every labelled instance, raw annotation box, no cleaning.
        return load_horse10_instances(d.ann_file, img_dir=d.img_dir, num_keypoints=schema.num_keypoints)
    return load_gt_instances(
        d.ann_file, img_dir=d.img_dir, gt_box_shrink=p.era.gt_box_shrink, num_keypoints=schema.num_keypoints
    )


# ---------------------------------------------------------------------------------------------------------------
# identity and provenance


def identity(spec: EvalSpec, *, checkpoint_sha256: str, ann_sha256: str, bbox_sha256: str | None) -> dict:
    """What was run: a result is keyed by this, never by its value (STYLE.md principle 3)."""
    s = spec.settings
    return {
        "prediction_format": PREDICTION_FORMAT,
        "row_id": spec.result.row_id,
        "protocol": spec.protocol_name,
        "protocol_resolved": describe(spec.protocol),
        "overrides": dict(spec.overrides),
        "checkpoint_sha256": checkpoint_sha256,
        "annotations_sha256": ann_sha256,
        "bbox_file_sha256": bbox_sha256,
        "limit": spec.limit,
        # Numerics that can move predictions: device kind and mode (batch size and workers cannot).
        "device": "cuda" if s.device.startswith("cuda") else "cpu",
        "mode": s.mode,
        "autocast_dtype": s.autocast_dtype,
        "crop_backend": spec.crop_backend,
    }


def _file_info(path: Path | None) -> dict | None:
    if path is None:
        return None
    return {"path": str(path), "sha256": file_sha256(path), "size": path.stat().st_size}


# ---------------------------------------------------------------------------------------------------------------
# the run


def _model_factory(spec: EvalSpec, model_factory: Callable[[], Any] | None = None) -> Callable:
    """The engine's lazy model builder: `model_factory()` when the caller gave one, else the entry's network with
    spec.checkpoint loaded; either way prepared for the run's device and numeric mode (runtime.prepare_model)."""

    def build():
        if model_factory is not None:
            model = model_factory()
        else:
            from harness.models.entry import build_from_entry

            model = build_from_entry(spec.entry, checkpoint=spec.checkpoint)
        return runtime.prepare_model(model, spec.settings)

    return build


@dataclass(frozen=True)
class _Prepared:
    """What a run needs before predicting: its data selection, identity and chunk cache (same on every rank)."""

    schema: KeypointSchema
    gt: Mapping[str, Any]
    image_ids: list[int]
    total_images: int
    files: dict  # checkpoint / annotations / bbox_file info
    ident: dict
    key: str
    store: ChunkStore


def _prepare(spec: EvalSpec, *, registry: Registry, out_dir: Path, model_label: str | None = None) -> _Prepared:
    entry, protocol = spec.entry, spec.protocol
    schema = registry.schemas[entry.architecture.keypoint_schema]
    if entry.architecture.num_keypoints != schema.num_keypoints:
        raise HarnessError(
            f"{entry.id}: architecture has {entry.architecture.num_keypoints} keypoints, schema "
            f"{schema.name!r} {schema.num_keypoints}"
        )
    gt = read_json(spec.data.ann_file, what="annotation file")
    image_ids = select_images(gt, spec.data.ann_file, spec.limit)
    total_images = len(select_images(gt, spec.data.ann_file, None))
    # A caller-built model (model_label set) is named by its label; its checkpoint file is optional provenance.
    in_memory = model_label is not None
    ckpt = _file_info(spec.checkpoint) if not in_memory or spec.checkpoint.is_file() else None
    ann = _file_info(spec.data.ann_file)
    bbox = _file_info(spec.data.bbox_file) if protocol.boxes and protocol.boxes.kind == "detector" else None
    ident = identity(
        spec, checkpoint_sha256=ckpt and ckpt["sha256"], ann_sha256=ann["sha256"], bbox_sha256=bbox and bbox["sha256"]
    )
    if in_memory:
        ident["model_label"] = model_label  # only then: the identities (run keys) of ordinary runs are unchanged
    key = results.run_key(ident)
    files = {"checkpoint": ckpt, "annotations": ann, "bbox_file": bbox}
    return _Prepared(schema, gt, image_ids, total_images, files, ident, key, ChunkStore(out_dir / ".chunks" / key))


def evaluate(
    spec: EvalSpec,
    *,
    registry: Registry,
    out_dir: Path,
    progress: bool = True,
    model_factory: Callable[[], torch.nn.Module] | None = None,
    model_label: str | None = None,
) -> RunOutcome:
    """Run, score and write DIR/predictions.json, DIR/metrics.json and DIR/result.json (only when complete).

    model_factory: builds the network in place of loading spec.checkpoint into the entry's architecture (tests,
    in-memory weights); called at most once, only when a chunk must be computed; the engine still moves the model
    to the run's device and puts it in eval mode. It needs `model_label`, a name of the weights it builds that
    joins the run's identity (the resumable chunks are keyed by it, STYLE.md principle 3); spec.checkpoint is
    then hashed for provenance only if that file exists.

    Under torchrun (WORLD_SIZE > 1) each rank computes its share of the chunks; rank 0 gathers the raw outputs in
    chunk order, post-processes, scores and writes; the other ranks write nothing and return the same metrics and
    record (`written` False, no predictions). See harness.distributed.
    """
    from harness import distributed

    if (model_factory is None) != (model_label is None) or (model_label is not None and not model_label.strip()):
        raise HarnessError(
            "evaluate(): model_factory and model_label go together: pass both (a caller-built model and a non-empty "
            "name of its weights, which keys the run) or neither (the model is built from spec.checkpoint)"
        )
    t0 = time.perf_counter()
    ctx = distributed.setup(device=spec.settings.device)
    if ctx.is_distributed:
        spec = dataclasses.replace(
            spec, settings=dataclasses.replace(spec.settings, device=ctx.device(spec.settings.device))
        )
    runtime.apply(spec.settings)
    run = _prepare(spec, registry=registry, out_dir=out_dir, model_label=model_label)
    schema, image_ids = run.schema, run.image_ids
    if spec.protocol.paradigm == "topdown":
        loaded = load_instances(spec, schema)
        wanted = set(image_ids)
        instances = tuple(i for i in loaded.instances if i.image_id in wanted)
        if not instances:
            raise DataError(f"no instances to evaluate in {spec.data.ann_file} ({loaded.report.summary()})")
        chunks, compute, unit = split_chunks(instances, spec.chunk_size), compute_topdown_chunks, "inst"
        counts = {"images": len(image_ids), "instances": len(instances), "load_report": loaded.report.summary()}
    else:
        chunks = split_chunks(image_ids, bottomup_chunk_images(spec.chunk_size))
        compute, unit, counts = compute_bottomup_chunks, "img", {"images": len(image_ids)}
    mine = ctx.shard(len(chunks))

    def run_share() -> tuple[dict, int, int]:
        with progress_bar(sum(len(chunks[i]) for i in mine), unit, progress and ctx.is_main) as bar:
            return compute(
                spec, chunks, schema, _model_factory(spec, model_factory), run.store, indices=mine, progress=bar
            )

    def finish(shares: list[tuple[dict, int, int]]) -> RunOutcome:
        parts = distributed.chunk_order([share for share, _, _ in shares], len(chunks))
        if unit == "inst":
            preds = topdown_predictions(spec, schema, parts)
        else:
            preds = [record for part in parts for record in part]
            counts["instances"] = len(preds)
        counts["predictions"] = len(preds)
        chunk_counts = {"reused": sum(s[1] for s in shares), "computed": sum(s[2] for s in shares)}
        return _score_and_write(
            spec, run, preds, registry=registry, out_dir=out_dir, t0=t0, ctx=ctx, counts=counts, chunks=chunk_counts
        )

    outcome = ctx.run_sharded(run_share, finish, public=lambda o: dataclasses.replace(o, predictions=[], written=False))
    if not ctx.is_main and ctx.local_rank == 0:
        run.store.clear()  # this machine's chunks, when --out is not shared with rank 0 (no-op when it is)
    return outcome


def _score_and_write(
    spec: EvalSpec, run: _Prepared, preds: list[dict], *, registry, out_dir: Path, t0: float, ctx, counts, chunks
) -> RunOutcome:
    """Score the predictions and write the run's three files; the chunk cache is dropped once they exist."""
    from harness.metrics import score

    entry, result, ev = spec.entry, spec.result, spec.protocol.evaluator
    sigmas = registry.schemas[ev.sigmas].sigmas if ev.sigmas else None
    scored = score(
        preds,
        evaluator=ev,
        gt=subset_gt(run.gt, run.image_ids),
        schema=run.schema,
        sigmas=sigmas,
        backend=spec.scoring,
    )
    partial_reason = _partial_reason(spec, len(run.image_ids), run.total_images)
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_key": run.key,
        "identity": run.ident,
        "row_id": result.row_id,
        "entry": entry.id,
        "dataset": result.dataset,
        "split": result.split,
        "protocol": spec.protocol_name,
        "overrides": dict(spec.overrides),
        "partial": partial_reason is not None,
        "partial_reason": partial_reason,
        "metrics": scored["metrics"],
        "per_keypoint": scored.get("per_keypoint", {}),
        "date": results.now_utc(),
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "provenance": {
            "git": results.git_state(),
            "packages": results.package_versions(),
            # world_size / backend: how it ran, not what: they are not part of the identity (same predictions).
            "settings": spec.settings.record()
            | {
                "batch_size": spec.batch_size,
                "workers": spec.num_workers,
                "crop_backend": spec.crop_backend,
                "scoring": scored.get("scoring", {"requested": spec.scoring}),
            }
            | ctx.record(),
            "checkpoint": run.files["checkpoint"],
            "checkpoint_registry_prefix": entry.checkpoint.sha256_prefix,
            "annotations": run.files["annotations"],
            "bbox_file": run.files["bbox_file"],
            "images_dir": str(spec.data.img_dir),
            "counts": counts,
            "chunks": chunks,
        },
    }
    results.write_predictions(out_dir / "predictions.json", preds)
    results.write_json_atomic(out_dir / "metrics.json", _json_safe(scored))
    results.write_json_atomic(out_dir / "result.json", _json_safe(record))
    run.store.clear()
    return RunOutcome(out_dir, preds, scored, _json_safe(record), chunks["reused"], chunks["computed"])


def _partial_reason(spec: EvalSpec, used: int, total: int) -> str | None:
    """Why this run cannot stand as a full reproduction (None when it can)."""
    reasons = []
    if used < total:
        reasons.append(f"--limit {spec.limit}: {used} of {total} images")
    if not spec.data.reference_layout:
        reasons.append(f"custom annotation file {spec.data.ann_file.name} (not the reference layout)")
    return "; ".join(reasons) or None


def _json_safe(obj: Any) -> Any:
    """NaN (a metric with nothing to count) becomes null, so the files stay strict JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj
