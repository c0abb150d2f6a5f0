"""Cases `data_check_unchanged` and `data_first_pin`: the data lock on a COCO-val-sized layout (issue 22).

Inputs: a synthetic COCO val2017 layout in a temporary folder (deleted with the suite's workdir): the synthetic
COCO-val-sized annotation file (benchmarks/synthetic.py: 5000 images, ~6k people), one detection box per person,
and 5000 image files of 160,000 bytes each (800 MB): a small valid JPEG followed by random bytes, so that every
file's digest is distinct and the check's sample images decode. The files are dated an hour back, as data fetched
earlier is (the stat cache trusts only files older than itself by 2 s: harness/data/digests.py).

- `data_check_unchanged`: `check_dataset` (what `python -m harness data check coco` runs: structure, images present,
  3 sample decodes, every file compared with the lock) when nothing changed, against `--full` (every byte re-read,
  the reference). Goal: under 1 s. The CLI process, start to exit, is timed too.
- `data_first_pin`: hashing every file the rows read with an empty stat cache (the first pin's cost), in parallel
  threads, against one thread (the reference: what the lock did before, file by file). Goal: >= 400 MB/s. Files are
  in the page cache (just written): a cold read is bounded by the disk instead. blake3 and xxhash are measured the
  same way when they are importable (they are not dependencies: docs/PERFORMANCE.md, "Data lock").
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite import BenchContext, register, timed
from benchmarks.synthetic import make_ground_truth

IMAGE_BYTES = {"full": 160_000, "small": 20_000}
AN_HOUR_AGO = time.time() - 3600


def _layout(ctx: BenchContext) -> tuple[Path, list[str], int]:
    """The synthetic layout under ctx.workdir (built once per suite run): (root, rel paths of every file the split
    reads, their total bytes)."""
    import cv2

    from zoo import load_registry

    size = "small" if ctx.quick else "full"
    root = ctx.workdir / f"data-lock-{size}"
    split = load_registry().datasets["coco"].splits["val2017"]
    gt = make_ground_truth(seed=ctx.seed, size=size)
    rels = [split.ann_file, split.bbox_file] + [f"{split.img_dir}{i['file_name']}" for i in gt["images"]]
    if not (root / split.ann_file).is_file():
        rng = np.random.default_rng([ctx.seed, 22])
        _, jpeg = cv2.imencode(".jpg", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        head = jpeg.tobytes()
        img_dir = root / split.img_dir
        img_dir.mkdir(parents=True)
        for img in gt["images"]:
            (img_dir / img["file_name"]).write_bytes(head + rng.bytes(IMAGE_BYTES[size] - len(head)))
        people = [a for a in gt["annotations"] if not a.get("iscrowd")]
        dets = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9} for a in people]
        for rel, doc in ((split.ann_file, gt), (split.bbox_file, dets)):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(json.dumps(doc))
        for rel in rels:
            os.utime(root / rel, (AN_HOUR_AGO, AN_HOUR_AGO))
    return root, rels, sum((root / r).stat().st_size for r in rels)


def _check(root: Path, **kwargs) -> Any:
    from harness.data.check import check_dataset
    from zoo import load_registry

    registry = load_registry()
    return check_dataset(registry.datasets["coco"], root, registry=registry, **kwargs)


@register(
    "data_check_unchanged",
    unit="s",
    what="`data check coco` (check_dataset) of a COCO-val-sized synthetic layout (5000 images, 800 MB) when nothing "
    "changed: the stat cache vouches for every file; reference = the same check with --full (every byte re-read)",
)
def data_check_unchanged(ctx: BenchContext) -> dict[str, Any]:
    root, rels, total = _layout(ctx)
    first = _check(root)  # pins the lock and fills the stat cache
    assert first.ok, first.problems
    ours_s, ours_all, report = timed(lambda: _check(root), ctx.repeats)
    full_s, full_all, full = timed(lambda: _check(root, full=True), max(1, ctx.repeats // 2))
    argv = [sys.executable, "-m", "harness", "data", "check", "coco", "--data-root", str(root)]
    cli = []
    for _ in range(max(1, ctx.repeats // 2)):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        cli.append(time.perf_counter() - t0)
    return {
        "ours": {"seconds": ours_s, "seconds_all": ours_all, "files_read": report.read, "cli_seconds_all": cli},
        "reference": {"seconds": full_s, "seconds_all": full_all, "files_read": full.read, "what": "--full"},
        "ratio": full_s / ours_s,
        "unit": "s",
        "notes": [
            f"{len(rels)} files, {total / 1e6:.0f} MB; unchanged: {report.read} files read (stat cache), --full: "
            f"{full.read}",
            f"the CLI process start to exit (`python -m harness data check coco`): {_median(cli):.2f} s (interpreter, "
            "imports and registry load included)",
            "goal: under 1 s",
        ],
        "checks": {
            "unchanged_check_reads_no_file": report.ok and report.read == 0,
            "full_check_reads_every_file": full.ok and full.read == len(set(rels)),
            "cli_exit_0": proc.returncode == 0,
        },
        "inputs": {"files": len(rels), "bytes": total, "quick": ctx.quick},
    }


def _evict(paths: list[Path]) -> None:
    """Drop these files (only these) from the page cache, so that the next read comes from the disk."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _parallel(fn, paths: list[Path], threads: int) -> None:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fn, paths))


def _hasher(new) -> Any:
    def digest(path: Path) -> str:
        h = new()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()

    return digest


def _alternatives() -> dict[str, Any]:
    """Hash constructors to weigh against sha256, where importable (not dependencies of the project)."""
    out: dict[str, Any] = {}
    try:
        import blake3

        out[f"blake3 {blake3.__version__}"] = lambda: blake3.blake3(max_threads=1)
    except ImportError:
        pass
    try:
        import xxhash

        out[f"xxh3_128 (xxhash {xxhash.VERSION})"] = xxhash.xxh3_128
    except ImportError:
        pass
    return out


@register(
    "data_first_pin",
    unit="s",
    what="first pin of a COCO-val-sized synthetic layout (5000 images + annotation and box files, 800 MB): sha256 "
    "of every file in parallel threads (harness/data/digests.py), files in the page cache; reference = one thread, "
    "file by file; blake3 / xxhash measured the same way when importable",
)
def data_first_pin(ctx: BenchContext) -> dict[str, Any]:
    from harness.data import digests

    root, rels, total = _layout(ctx)
    paths = [root / r for r in rels]

    def pin() -> digests.Hashed:
        return digests.content_records(root, rels, full=True, cache=digests.StatCache(root / "no-cache-here"))

    ours_s, ours_all, hashed = timed(pin, ctx.repeats)
    ref_s, ref_all, _ = timed(lambda: [digests.file_digest(p) for p in paths], max(1, ctx.repeats // 2))
    cold = {}
    for name, fn in (("ours", pin), ("one_thread", lambda: [digests.file_digest(p) for p in paths])):
        _evict(paths)
        cold[name] = total / timed(fn, 1)[0] / 1e6
    threads = digests.hash_threads()
    alternatives: dict[str, dict[str, float]] = {}
    for name, new in {"sha256 (hashlib)": hashlib.sha256, **_alternatives()}.items():
        one = timed(lambda new=new: [_hasher(new)(p) for p in paths], 1)[0]
        many = timed(lambda new=new: _parallel(_hasher(new), paths, threads), 1)[0]
        alternatives[name] = {"one_thread_mb_per_s": total / one / 1e6, "parallel_mb_per_s": total / many / 1e6}
    alts = alternatives.items()
    return {
        "ours": {"seconds": ours_s, "seconds_all": ours_all, "mb_per_s": total / ours_s / 1e6, "threads": threads},
        "reference": {"seconds": ref_s, "seconds_all": ref_all, "mb_per_s": total / ref_s / 1e6, "threads": 1},
        "ratio": ref_s / ours_s,
        "unit": "s",
        "notes": [
            f"{len(rels)} files, {total / 1e6:.0f} MB: ours {total / ours_s / 1e6:.0f} MB/s with {threads} threads, "
            f"one thread {total / ref_s / 1e6:.0f} MB/s; goal >= 400 MB/s",
            f"read from the disk (the files evicted from the page cache first): ours {cold['ours']:.0f} MB/s, one "
            f"thread {cold['one_thread']:.0f} MB/s",
            "hash functions, MB/s one thread / parallel: "
            + "; ".join(f"{k} {v['one_thread_mb_per_s']:.0f} / {v['parallel_mb_per_s']:.0f}" for k, v in alts),
            f"{os.cpu_count()} cores shared with other work: see the load average below",
        ],
        "checks": {"every_file_hashed": len(hashed.records) == len(set(rels)) and not hashed.unreadable},
        "alternatives": alternatives,
        "cold_mb_per_s": cold,
        "inputs": {"files": len(rels), "bytes": total, "quick": ctx.quick},
    }
