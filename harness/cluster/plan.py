"""The plan of a Slurm submission: per row its run folder, the spec its job runs, its run identity (the same
computation as the engine's, harness.engine.run_inputs) and whether a complete, verified run of that identity is
already in its folder (then it is not submitted again). A row split over several jobs (--jobs-per-row) has its
chunk count from the items the submitter reads (harness.engine's chunk plan), and one job per non-empty part."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness import identity, outputs
from harness.checkpoints.hashing import file_sha256


@dataclass(frozen=True)
class RowPlan:
    key: str  # the run folder relative to the runs folder (the manifest's key)
    out_dir: Path
    spec: object  # harness.spec.EvalSpec as the job runs it
    run_key: str
    inputs: dict[str, str]  # {path: sha256} of the annotation and box files
    complete: bool  # a verified run of this identity is already in out_dir
    chunks: int | None = None  # the row's chunk count (counted when it is split)
    parts: int = 1  # jobs the row runs as

    def requests(self) -> list[tuple[int, int] | None]:
        """The `part` of each job of this row (None: the whole row in one job)."""
        return [None] if self.parts == 1 else [(i, self.parts) for i in range(self.parts)]


def build(specs_and_dirs: list[tuple[object, Path]], runs_dir: Path, jobs_per_row: int = 1) -> list[RowPlan]:
    """specs_and_dirs: (job spec, run folder) per row, in submission order."""
    from harness.engine import run_inputs

    hashed: dict[str, dict] = {}  # a checkpoint shared by several rows is hashed once
    plans = []
    for spec, out_dir in specs_and_dirs:
        ckpt = str(spec.checkpoint)
        if ckpt not in hashed:
            size = spec.checkpoint.stat().st_size
            hashed[ckpt] = {"path": ckpt, "sha256": file_sha256(spec.checkpoint), "size": size}
        files, ident, per_chunk = run_inputs(spec, checkpoint_info=hashed[ckpt])
        key = identity.run_key(ident)
        inputs = {f["path"]: f["sha256"] for name, f in files.items() if name != "checkpoint" and f is not None}
        rel = out_dir.relative_to(runs_dir).as_posix() if out_dir.is_relative_to(runs_dir) else str(out_dir)
        chunks = -(-items(spec) // per_chunk) if jobs_per_row > 1 else None
        parts = min(jobs_per_row, chunks) if chunks else 1
        plans.append(RowPlan(rel, out_dir, spec, key, inputs, complete(out_dir, key), chunks, max(1, parts)))
    return plans


def items(spec) -> int:
    """The instances (top-down) or images (bottom-up) the row evaluates, read from its data as the engine does."""
    from harness.data.loaders import read_tables
    from harness.engine import load_instances, select_images
    from zoo import load_registry

    registry = load_registry()
    schema = registry.schemas[spec.entry.architecture.keypoint_schema]
    annotations = registry.datasets[spec.result.dataset].annotations
    gt = read_tables(annotations, spec.data.ann_file, schema=schema, evaluator=spec.protocol.evaluator)
    ids, _ = select_images(gt, spec.data.ann_file, spec.limit)
    if spec.protocol.paradigm != "topdown":
        return len(ids)
    wanted = set(ids)
    return sum(1 for i in load_instances(spec, registry).instances if i.image_id in wanted)


def complete(out_dir: Path, run_key: str) -> bool:
    """True when out_dir holds the three result files of run `run_key`, each with the bytes its manifest lists."""
    try:
        manifest = json.loads((out_dir / outputs.MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    written = manifest.get("written") or {} if isinstance(manifest, dict) else {}
    if manifest.get("run_key") != run_key or manifest.get("pending"):
        return False
    for name in outputs.OUTPUT_FILES:
        try:
            if file_sha256(out_dir / name) != written.get(name):
                return False
        except OSError:
            return False
    return True
