"""Evaluate one documented result row end to end: data -> model -> predictions (resumable) -> metrics -> files.

Running the model is separate from scoring it (DESIGN.md principle 5): predictions are computed in chunks that are
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
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import identity, outputs, results, runtime
from harness.checkpoints.hashing import file_sha256
from harness.chunks import (
    ChunkStore,
    Share,
    bottomup_chunk_images,
    compute_bottomup_chunks,
    compute_topdown_chunks,
    part_range,
    progress_bar,
    split_chunks,
    topdown_predictions,
)
from harness.data.annotations import coco_tables
from harness.errors import DataError, HarnessError
from harness.metrics.evaluators import scorer_of, truth_key
from harness.spec import EvalSpec
from zoo.registry.schema import KeypointSchema, Registry, TopDownProtocol
from zoo.results import portable
from zoo.results.record import RunRecord, standing

if TYPE_CHECKING:
    import torch


@dataclass
class RunOutcome:
    out_dir: Path
    predictions: list[dict]
    scored: dict
    record: RunRecord
    reused_chunks: int  # summed over ranks under torchrun
    computed_chunks: int
    #: False on the ranks > 0 of a torchrun run: they wrote nothing and hold no predictions (same metrics/record).
    written: bool = True


# ---------------------------------------------------------------------------------------------------------------
# data selection


def select_images(gt: Mapping[str, Any], ann_file: Path, limit: int | None) -> tuple[list[int], int]:
    """Image ids in annotation-file order (the reference's order), the first `limit` of them when given, and how
    many images the file has."""
    images, _ = coco_tables(gt, ann_file)
    ids = [img["id"] for img in images]
    if limit is not None and limit < 1:
        raise HarnessError(f"--limit must be at least 1, got {limit}")
    return ids[:limit], len(ids)


def subset_gt(gt: Mapping[str, Any], image_ids: list[int]) -> dict[str, Any]:
    """The annotation file restricted to some images, so that a --limit run is scored against its own images."""
    keep = set(image_ids)
    out = dict(gt)
    out["images"] = [img for img in gt["images"] if img["id"] in keep]
    out["annotations"] = [a for a in gt.get("annotations", []) if a["image_id"] in keep]
    return out


def load_instances(spec: EvalSpec, registry: Registry):
    """Top-down instances per the row's box source (PROTOCOLS.md §2.1, §5): detector boxes, or the GT instances read
    by the loader of the dataset's annotation format (harness.data.loaders)."""
    from harness.data.coco_style import load_detection_instances
    from harness.data.loaders import load_gt_split

    p, d = spec.protocol, spec.data
    schema = registry.schemas[spec.entry.architecture.keypoint_schema]
    if isinstance(p, TopDownProtocol) and p.boxes.kind == "detector":
        if d.bbox_file is None:
            raise DataError(
                f"{spec.result.row_id} uses detector boxes ({p.boxes.file}); pass --bbox-file F or use --data-root"
            )
        return load_detection_instances(
            d.bbox_file, ann_file=d.ann_file, img_dir=d.img_dir, score_threshold=p.boxes.score_threshold
        )
    annotations = registry.datasets[spec.result.dataset].annotations
    return load_gt_split(annotations, d.ann_file, img_dir=d.img_dir, protocol=p, schema=schema)


# ---------------------------------------------------------------------------------------------------------------
# identity and provenance


def _recorded(info: dict | None, known: dict[str, Path]) -> dict | None:
    """A file's info as the record holds it: its path portable (zoo.results.portable), its hash and size as they are."""
    return None if info is None else {**info, "path": portable.path(info["path"], known)}


def _file_info(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return {"path": str(path), "sha256": file_sha256(path), "size": path.stat().st_size}
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror or exc})") from None


def verify_published(spec: EvalSpec, *, offline: bool | None) -> tuple[EvalSpec, dict]:
    """The published checkpoint, hashed in full by this run and compared with the registry before the first forward
    pass (harness.checkpoints.store.verified_for_run): a damaged cached file, even with its size and mtime kept,
    never becomes a 'failed' verdict. Returns the spec with the verified path and the file's provenance."""
    from harness.checkpoints.store import verified_for_run

    checked = verified_for_run(spec.entry.checkpoint, spec.checkpoint, offline=offline)
    info = {"path": str(checked.path), "sha256": checked.sha256, "size": checked.size}
    return dataclasses.replace(spec, checkpoint=checked.path), info


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
    chunk_items: int  # instances (top-down) or images (bottom-up) per chunk
    #: The evaluator kind's own ground truth (Scorer.read_truth; PCKh's .mat), read and checked before any inference.
    truth: Any = None


def _prepare(
    spec: EvalSpec,
    *,
    registry: Registry,
    out_dir: Path,
    model_label: str | None = None,
    overwrite: bool = False,
    replace_other_runs: bool = False,
    checkpoint_info: dict | None = None,
) -> _Prepared:
    entry = spec.entry
    schema = registry.schemas[entry.architecture.keypoint_schema]
    if entry.architecture.num_keypoints != schema.num_keypoints:
        raise HarnessError(
            f"{entry.id}: architecture has {entry.architecture.num_keypoints} keypoints, schema "
            f"{schema.name!r} {schema.num_keypoints}"
        )
    outputs.check(out_dir, run_key=None, overwrite=overwrite)  # before hashing gigabytes: a file, not writable
    gt, truth = _ground_truth(spec, registry, schema)
    image_ids, total_images = select_images(gt, spec.data.ann_file, spec.limit)
    files, ident, per_chunk = run_inputs(spec, model_label=model_label, checkpoint_info=checkpoint_info)
    if truth is not None:
        files[truth_key(spec.protocol.evaluator)] = _file_info(Path(truth.source))
    key = identity.run_key(ident)
    outputs.check(out_dir, run_key=key, overwrite=overwrite, replace_other_runs=replace_other_runs)
    store = ChunkStore(out_dir / ".chunks" / key, run_key=key)
    return _Prepared(schema, gt, image_ids, total_images, files, ident, key, store, per_chunk, truth)


def _ground_truth(spec: EvalSpec, registry: Registry, schema: KeypointSchema) -> tuple[Mapping[str, Any], Any]:
    """The split's annotations as checked COCO-shaped tables, read by its dataset's annotation format
    (harness.data.loaders.TABLES); and the evaluator kind's own ground truth when it has one (PCKh: MPII's .mat beside
    the annotation file, PROTOCOLS.md §11), checked against the tables before hours of inference."""
    from harness.data.loaders import read_tables
    from harness.metrics.evaluators import read_truth

    ev = spec.protocol.evaluator
    annotations = registry.datasets[spec.result.dataset].annotations
    gt = read_tables(annotations, spec.data.ann_file, schema=schema, evaluator=ev)
    return gt, read_truth(ev, ann_file=spec.data.ann_file, gt=gt, schema=schema)


def run_inputs(
    spec: EvalSpec, *, model_label: str | None = None, checkpoint_info: dict | None = None
) -> tuple[dict, dict, int]:
    """The input files a run reads ({checkpoint, annotations, bbox_file}: path, sha256, size), its identity and its
    items per chunk. Also what a cluster submitter computes to tell a finished run from one to submit."""
    protocol = spec.protocol
    # A caller-built model (model_label set) is named by its label; its checkpoint file is optional provenance.
    in_memory = model_label is not None
    if checkpoint_info is not None:
        ckpt = checkpoint_info
    else:
        ckpt = _file_info(spec.checkpoint) if not in_memory or spec.checkpoint.is_file() else None
    ann = _file_info(spec.data.ann_file)
    detector = isinstance(protocol, TopDownProtocol) and protocol.boxes.kind == "detector"
    bbox = _file_info(spec.data.bbox_file) if detector else None
    per_chunk = spec.chunk_size if protocol.paradigm == "topdown" else bottomup_chunk_images(spec.chunk_size)
    ident = identity.run_identity(
        spec,
        checkpoint_sha256=ckpt and ckpt["sha256"],
        ann_sha256=ann["sha256"],
        bbox_sha256=bbox and bbox["sha256"],
        chunk_layout={"items_per_chunk": per_chunk},
        model_label=model_label if in_memory else None,
    )
    # No path of this machine in what is recorded and hashed (a --bbox-file override is a path): zoo.results.portable.
    ident = portable.tree(ident, portable.roots(spec.data.root))
    return {"checkpoint": ckpt, "annotations": ann, "bbox_file": bbox}, ident, per_chunk


def run_evaluation(
    spec: EvalSpec,
    *,
    registry: Registry,
    out_dir: Path,
    progress: bool = True,
    model_factory: Callable[[], torch.nn.Module] | None = None,
    model_label: str | None = None,
    overwrite: bool = False,
    replace_other_runs: bool = False,
    reuse_only: bool = False,
) -> RunOutcome:
    """Run, score and write DIR/predictions.json, DIR/metrics.json and DIR/result.json (only when complete).

    model_factory: builds the network in place of loading spec.checkpoint into the entry's architecture (tests,
    in-memory weights); called at most once, only when a chunk must be computed; the engine still moves the model
    to the run's device and puts it in eval mode. It needs `model_label`, a name of the weights it builds that
    joins the run's identity (the resumable chunks are keyed by it, DESIGN.md principle 3); spec.checkpoint is
    then hashed for provenance only if that file exists.

    Under torchrun (WORLD_SIZE > 1) each rank computes its share of the chunks; rank 0 gathers the raw outputs in
    chunk order, post-processes, scores and writes; the other ranks write nothing and return the same metrics and
    record (`written` False, no predictions). See harness.distributed.

    reuse_only: every chunk must already be on disk and valid for this run's identity (the gathering step of a
    row computed as several jobs, `compute_part`); a missing or mismatched chunk is an error, nothing is computed.
    """
    from harness import distributed

    if (model_factory is None) != (model_label is None) or (model_label is not None and not model_label.strip()):
        raise HarnessError(
            "run_evaluation(): model_factory and model_label go together: pass both (a caller-built model and a "
            "non-empty name of its weights, which keys the run) or neither (the model is built from spec.checkpoint)"
        )
    t0 = time.perf_counter()
    spec, ctx, run = _begin(
        spec, registry=registry, out_dir=out_dir, model_label=model_label, overwrite=overwrite,
        replace_other_runs=replace_other_runs,
    )  # fmt: skip
    chunks, compute, unit, counts = _chunked(spec, run, registry)
    schema = run.schema
    if reuse_only:
        _require_chunks(run.store, len(chunks))
        model_factory = _no_model(run.store)
    mine = ctx.shard(len(chunks))

    def run_share() -> Share:
        with progress_bar(sum(len(chunks[i]) for i in mine), unit, progress and ctx.is_main) as bar:
            return compute(
                spec, chunks, schema, _model_factory(spec, model_factory), run.store, indices=mine, progress=bar
            )

    def finish(shares: list[Share]) -> RunOutcome:
        parts = distributed.chunk_order([share[0] for share in shares], len(chunks))
        if unit == "inst":
            preds = topdown_predictions(spec, schema, parts)
        else:
            preds = [record for part in parts for record in part]
            counts["instances"] = len(preds)
        counts["predictions"] = len(preds)
        chunk_counts = {"reused": sum(s[1] for s in shares), "computed": sum(s[2] for s in shares)}
        decoded = {path: sha for share in shares for path, sha in share[3].items()}
        return _score_and_write(
            spec, run, preds, registry=registry, out_dir=out_dir, t0=t0, ctx=ctx, counts=counts, chunks=chunk_counts,
            decoded=decoded,
        )  # fmt: skip

    outcome = ctx.run_sharded(run_share, finish, public=lambda o: dataclasses.replace(o, predictions=[], written=False))
    if not ctx.is_main and ctx.local_rank == 0:
        run.store.clear()  # this machine's chunks, when --out is not shared with rank 0 (no-op when it is)
    return outcome


@dataclass(frozen=True)
class PartOutcome:
    """What one job of a row split over several jobs did (`compute_part`): its chunks, and the row's progress."""

    chunk_folder: Path
    chunk_count: int  # chunks of the whole row
    indices: list[int]  # the chunks of this part
    reused_chunks: int  # summed over ranks
    computed_chunks: int


def compute_part(spec: EvalSpec, *, registry: Registry, out_dir: Path, part: int, parts: int) -> PartOutcome:
    """Compute and save the chunks of part `part` of `parts` of a row (harness.chunks.part_range: a contiguous range
    of its chunk plan, shared over the ranks under torch.distributed) and write nothing else: the run's files are
    written by `run_evaluation(..., reuse_only=True)` once every part's chunks are on disk. The chunks are those of
    the row's run identity, so a part computed by another job, or a requeued one, is reused only when it matches."""
    spec, ctx, run = _begin(spec, registry=registry, out_dir=out_dir, model_label=None, overwrite=False,
                            replace_other_runs=True)  # fmt: skip
    chunks, compute, unit, _ = _chunked(spec, run, registry)
    indices = list(part_range(part, parts, len(chunks)))
    mine = indices[ctx.rank :: ctx.world_size]
    with progress_bar(sum(len(chunks[i]) for i in mine), unit, False) as bar:
        share = compute(spec, chunks, run.schema, _model_factory(spec, None), run.store, indices=mine, progress=bar)
    counts = ctx.gather((share[1], share[2]))  # rank 0 sums what every rank reused and computed
    reused, computed = ctx.broadcast((sum(c[0] for c in counts), sum(c[1] for c in counts)) if counts else None)
    return PartOutcome(run.store.folder, len(chunks), indices, reused, computed)


def _require_chunks(store: ChunkStore, count: int) -> None:
    missing = store.missing(count)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise HarnessError(
            f"{len(missing)} of the {count} chunks of run {store.run_key} are not in {store.folder} (chunk "
            f"{shown}): a job of this row did not finish; run the same command again to compute them"
        )


def _no_model(store: ChunkStore) -> Callable:
    def refuse():
        raise HarnessError(
            f"a chunk in {store.folder} does not match run {store.run_key} (see the warning above) and this step "
            "only gathers chunks; run the same command again to compute it"
        )

    return refuse


def _begin(spec: EvalSpec, *, registry: Registry, out_dir: Path, model_label, overwrite, replace_other_runs):
    """(spec for this rank's device, distributed context, prepared run): the process group joined, the published
    checkpoint verified, the data read and the run identity computed."""
    from harness import distributed

    ctx = distributed.setup(device=spec.settings.device)
    if ctx.is_distributed:
        spec = dataclasses.replace(
            spec, settings=dataclasses.replace(spec.settings, device=ctx.device(spec.settings.device))
        )
    runtime.apply(spec.settings)
    checkpoint_info = None
    if spec.published_checkpoint and model_label is None:
        # Under torchrun no rank fetches again (they would race): a damaged file stops every rank.
        offline = True if ctx.is_distributed else spec.offline
        spec, checkpoint_info = verify_published(spec, offline=offline)
    run = _prepare(
        spec,
        registry=registry,
        out_dir=out_dir,
        model_label=model_label,
        overwrite=overwrite,
        replace_other_runs=replace_other_runs,
        checkpoint_info=checkpoint_info,
    )
    return spec, ctx, run


def _chunked(spec: EvalSpec, run: _Prepared, registry: Registry) -> tuple[list, Callable, str, dict]:
    """The run's chunks (instances or image ids, in the chunk plan of harness.chunks), the function that computes
    a share of them, the progress unit and the counts recorded in provenance."""
    image_ids = run.image_ids
    if spec.protocol.paradigm == "topdown":
        loaded = load_instances(spec, registry)
        wanted = set(image_ids)
        instances = tuple(i for i in loaded.instances if i.image_id in wanted)
        if not instances:
            raise DataError(f"no instances to evaluate in {spec.data.ann_file} ({loaded.report.summary()})")
        chunks, compute, unit = split_chunks(instances, run.chunk_items), compute_topdown_chunks, "inst"
        # The report names the file it read: recorded portable, as $DATA/... (zoo.results.portable), whatever the data
        # root.
        source = portable.path(loaded.report.source, portable.roots(spec.data.root))
        report = dataclasses.replace(loaded.report, source=source).summary()
        counts = {"images": len(image_ids), "instances": len(instances), "load_report": report}
    else:
        chunks = split_chunks(image_ids, run.chunk_items)
        files = {img["id"]: spec.data.img_dir / img["file_name"] for img in run.gt["images"]}
        compute = functools.partial(compute_bottomup_chunks, image_files=files)
        unit, counts = "img", {"images": len(image_ids)}
    return chunks, compute, unit, counts


def _score_and_write(
    spec: EvalSpec,
    run: _Prepared,
    preds: list[dict],
    *,
    registry,
    out_dir: Path,
    t0: float,
    ctx,
    counts,
    chunks,
    decoded: dict[str, str],
) -> RunOutcome:
    """Score the predictions and write the run's three files; the chunk cache is dropped once they exist."""
    from harness import distributed
    from harness.metrics.evaluators import score

    entry, result, ev = spec.entry, spec.result, spec.protocol.evaluator
    sigmas = registry.schemas[ev.sigmas_schema].sigmas if ev.sigmas_schema else None
    gt = subset_gt(run.gt, run.image_ids)
    if run.truth is not None:  # the kind's own truth (PCKh's .mat): the part the selected images hold
        gt = scorer_of(ev).select_truth(run.truth, gt)
    scored = score(
        preds,
        evaluator=ev,
        gt=gt,
        schema=run.schema,
        sigmas=sigmas,
        backend=spec.scoring,
    )
    partial_reason = _partial_reason(spec, len(run.image_ids), run.total_images)
    known = portable.roots(spec.data.root)
    provenance = {
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
        "launcher": distributed.launcher_record(),
        "checkpoint": _recorded(run.files["checkpoint"], known),
        "checkpoint_registry_prefix": entry.checkpoint.sha256_prefix,
        "annotations": _recorded(run.files["annotations"], known),
        "bbox_file": _recorded(run.files["bbox_file"], known),
        **({truth_key(ev): _recorded(run.files[truth_key(ev)], known)} if run.truth is not None else {}),
        "images_dir": portable.path(spec.data.img_dir, known),
        "counts": counts,
        "chunks": chunks,
    }
    if spec.data.root is not None:
        provenance["data"] = _data_read(spec, run, decoded)
    # Every recorded path is $DATA/..., $CACHE/..., repository-relative or $ELSEWHERE/name, never this machine's
    # (zoo.results.portable); the tree walk also catches a path inside a message (a load report, a data-lock warning).
    provenance = portable.tree(provenance, known)
    record = RunRecord(
        run_key=run.key,
        identity=run.ident,
        row_id=result.row_id,
        entry=entry.id,
        dataset=result.dataset,
        split=result.split,
        protocol=spec.protocol_name,
        overrides=portable.tree(dict(spec.overrides), known),
        partial=partial_reason is not None,
        partial_reason=partial_reason,
        metrics=_json_safe(scored["metrics"]),
        per_keypoint=_json_safe(scored.get("per_keypoint", {})),
        date=results.now_utc(),
        wall_time_s=round(time.perf_counter() - t0, 3),
        provenance=_json_safe(provenance),
    )
    record = dataclasses.replace(record, informational=standing(record))
    files = {
        "predictions.json": results.predictions_bytes(preds),
        "metrics.json": results.json_bytes(_json_safe(scored)),
        "result.json": results.json_bytes(record.to_dict()),
    }
    outputs.write(out_dir, files, run_key=run.key, row_id=result.row_id)
    run.store.clear()
    return RunOutcome(out_dir, preds, scored, record, chunks["reused"], chunks["computed"])


def _data_read(spec: EvalSpec, run: _Prepared, decoded: dict[str, str]) -> dict:
    """Which data the run was computed on, compared with the data lock (harness.data.lock.run_data): the annotation
    and box files and the evaluator's own truth (PCKh's .mat) hashed in _prepare, and the bytes of every image as
    decoded (harness.data.images.recording)."""
    from harness.data.lock import run_data

    read = (run.files["annotations"], run.files["bbox_file"], run.files.get(truth_key(spec.protocol.evaluator)))
    files = {i["path"]: i["sha256"] for i in read if i is not None}
    return run_data(spec.data.root, spec.result.dataset, spec.result.split, images=decoded, files=files)


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
