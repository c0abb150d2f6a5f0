"""`reproduce --launcher slurm --dry-run`: the plan of a submission, printed, with nothing submitted and nothing
downloaded, on a machine that may have neither the data nor the checkpoints (a login node, a laptop).

Per row: its run folder, the items it evaluates and its chunks, the jobs it runs as, and an estimate of one job's
wall time from the committed benchmark figures (harness.cluster.estimate). What is known depends on what is here,
and the plan says which:
- the row's data and its cached checkpoint here: the exact count read from the data, the run identity, and whether
  a complete and verified run of it is already in the runs folder (then it is not submitted);
- only the data root's data lock (harness.data.lock): the images the split reads, from the lock's file count
  (top-down instance counts are not in it);
- neither: "unknown". The registry documents no image or instance counts, and none is guessed.
The total is given only when every job has an estimate: the sum of the jobs' times, and, with `--max-running N`
(N GPUs at one GPU per job), the jobs spread over N slots longest first, a lower bound of the wall time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.cluster import estimate, plan
from harness.cluster.options import Resources
from harness.errors import DataError

UNKNOWN = "unknown: no data and no data lock here, and the registry documents no counts"


@dataclass(frozen=True)
class RowLine:
    row_id: str
    protocol: str
    items: int | None
    word: str  # "instances" / "images"
    source: str  # where the count comes from
    chunks: int | None
    jobs: int | None  # None: up to --jobs-per-row (the chunk count is unknown)
    seconds: float | None  # estimated wall time of one job of the row
    figure: str  # the figure used, or why there is none
    status: str


def row_lines(rows, specs: dict, *, registry, data_root: Path, runs_dir: Path, resources: Resources, device: str,
              job_spec: Callable) -> list[RowLine]:  # fmt: skip
    """specs: the rows' specs without data (protocol, settings); job_spec(row, data, checkpoint) -> (the spec a job
    runs, its run folder), called only where the row's data and checkpoint are here."""
    from harness.chunks import bottomup_chunk_images
    from harness.data.layout import missing_paths
    from harness.spec import DataPaths

    out = []
    for row in rows:
        spec = specs[row.row_id]
        split = registry.datasets[row.dataset].splits[row.split]
        paradigm = spec.protocol.paradigm
        missing = missing_paths(split, data_root)
        ckpt = None if missing else _local_checkpoint(registry.entry(row.entry_id).checkpoint)
        if ckpt is not None:
            root = Path(data_root)
            bbox = root / split.bbox_file if split.bbox_file else None
            data = DataPaths(root / split.ann_file, root / split.img_dir, bbox, reference_layout=True, root=root)
            (p,) = plan.build([job_spec(row, data, ckpt)], runs_dir)
            items, source = plan.items(p.spec), "read from the data"
            status = f"complete, not submitted ({p.key})" if p.complete else f"run {p.run_key} -> {p.key}"
        else:
            items, source = _from_lock(data_root, row, split, paradigm)
            status = f"no {'data' if missing else 'checkpoint'} here: run identity not computed"
        per_chunk = spec.chunk_size if paradigm == "topdown" else bottomup_chunk_images(spec.chunk_size)
        chunks = math.ceil(items / per_chunk) if items else None
        jobs = min(resources.jobs_per_row, chunks) if chunks else (1 if resources.jobs_per_row == 1 else None)
        found = estimate.per_item_seconds(spec, device)
        seconds = found[0] * items / resources.tasks_per_job / jobs if found and items and jobs else None
        figure = f"{found[0]:.3g} s per {'instance' if paradigm == 'topdown' else 'image'}, {found[2]}" if found else (
            f"no figure for {device} ({paradigm}, {spec.settings.mode})")  # fmt: skip
        word = "instances" if paradigm == "topdown" else "images"
        out.append(RowLine(row.row_id, spec.protocol_name, items, word, source, chunks, jobs, seconds, figure, status))
    return out


def _local_checkpoint(checkpoint) -> Path | None:
    """The verified checkpoint file here: in the cache, or shipped with the registry (a file: URL, copied into the
    cache and verified as `fetch` does); never a download."""
    from harness.checkpoints.store import cached_path, fetch
    from harness.errors import DownloadError

    found = cached_path(checkpoint)
    if found is None and checkpoint.url.startswith("file:"):
        try:
            found = fetch(checkpoint, offline=True, progress=False)
        except DownloadError:
            return None
    return found


def _from_lock(data_root: Path, row, split, paradigm: str) -> tuple[int | None, str]:
    """(images, where from) from the data lock when it pins this split."""
    from harness.data import lock

    try:
        entry = lock.dataset_lock(data_root, row.dataset)
    except DataError:
        entry = None
    record = entry.splits.get(row.split) if entry else None
    if record is None:
        return None, UNKNOWN
    images = record.count - 1 - (1 if split.bbox_file else 0)  # the lock counts the annotation and box files too
    if paradigm == "topdown":
        return None, f"unknown: {images} images in the data lock, which does not count instances"
    return images, "from the data lock"


def render(plan_lines: list[RowLine], resources: Resources, *, device: str, max_running: int | None) -> str:
    """The plan as text: a header, a table of rows (one line each), the notes it refers to and the total."""
    to_run = [r for r in plan_lines if not r.status.startswith("complete")]
    jobs = sum(r.jobs or resources.jobs_per_row for r in to_run)
    exact = all(r.jobs is not None for r in to_run)
    env = estimate.figures(device)
    committed = ", ".join(estimate.available()) or "none"
    out = [
        f"{len(to_run)} row(s) to submit as {'' if exact else 'up to '}{jobs} job(s) in one job array; "
        f"{len(plan_lines) - len(to_run)} complete, not submitted",
        f"each job: {resources.describe()}",
        f"estimates: {f'benchmarks/results/{env[0]}' if env else f'no committed benchmark figures for {device}'} "
        f"(committed: {committed}; --estimate-device NAME)",
        f"  {'row (protocol)':<60} {'items':>16} {'chunks':>6} {'jobs':>4} {'per job':>9}  status",
    ]
    notes: dict[str, str] = {}
    for r in plan_lines:
        mark = notes.setdefault(r.source, "*" * (len(notes) + 1)) if r.source != "read from the data" else ""
        count = f"{r.items if r.items else '?'} {r.word}{mark}"
        wall = f"~{estimate.duration(r.seconds)}" if r.seconds is not None else "-"
        chunks, jobs = r.chunks or "?", r.jobs or f"<={resources.jobs_per_row}"
        out.append(f"  {f'{r.row_id} ({r.protocol})':<60} {count:>16} {chunks:>6} {jobs:>4} {wall:>9}  {r.status}")
    out += [f"  {mark} {source}" for source, mark in notes.items()]
    for figure in dict.fromkeys(r.figure for r in plan_lines):
        out.append(f"  figure: {figure}")
    out.append(_total(to_run, max_running))
    return "\n".join(out)


def _total(rows: list[RowLine], max_running: int | None) -> str:
    missing = [r for r in rows if r.seconds is None]
    if missing:
        return f"total: no estimate ({len(missing)} of {len(rows)} row(s) have no count or no figure)"
    times = [r.seconds for r in rows for _ in range(r.jobs or 1)]
    text = f"total: ~{estimate.duration(sum(times))} of job time over {len(times)} job(s)"
    if max_running:
        text += f"; on {max_running} slot(s) at a time, at least ~{estimate.duration(makespan(times, max_running))}"
    return text


def makespan(times: list[float], slots: int) -> float:
    """The finish time of jobs placed longest first, each on the slot free earliest (no queue wait counted)."""
    free = [0.0] * max(1, slots)
    for t in sorted(times, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + t)
    return max(free)
