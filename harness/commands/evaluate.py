"""`python -m harness evaluate ID --out DIR`: evaluate a checkpoint under a documented row's protocol.

Writes DIR/predictions.json (COCO results), DIR/metrics.json (AP, AP50, AP75, AR, AR50 or PCK@0.3, NME, plus
per-keypoint) and DIR/result.json (identity and provenance). An interrupted run resumes when started again with the
same arguments and DIR.

Several GPUs or machines: `torchrun --nproc-per-node N -m harness evaluate ID --out DIR` shares the chunks out over
N processes; rank 0 writes the same files, bit for bit, as a single-process run with the same torch thread count
per process (torchrun sets OMP_NUM_THREADS=1; on the CPU another thread count sums the convolutions in another
order: see harness/distributed.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from harness.commands import add_data_root_argument, add_scoring_argument
from harness.errors import DataError, HarnessError
from harness.modes import AMP_DTYPES, MODES
from harness.protocols import PROTOCOL_NAMES
from harness.spec import CROP_BACKENDS
from zoo import settings


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by `evaluate` and `reproduce`."""
    p.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        default="published",
        help="published (default: what produced the documented numbers) or mmpose-0.29 (the oracle's)",
    )
    p.add_argument("--no-flip", action="store_true", help="disable the flip test (an override, recorded)")
    p.add_argument(
        "--scales",
        type=_scales,
        default=None,
        metavar="S,S,...",
        help="bottom-up test scales, e.g. 2,1,0.5 (an override, recorded)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when present, else cpu)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="top-down crops per forward (default 32)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="CPU helpers beside the forward; never changes a prediction. Top-down: threads decoding and cropping "
        "ahead (default: 2 on CUDA, 0 on the CPU, where the forward already uses every core). Bottom-up: processes "
        "grouping and refining image i while the model runs on image i+1 (default: the cores but one; 0: serial)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="only the first N images (a partial run: labelled so, never a reproduction)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default="exact",
        help="exact (default: fp32 as the reference runs it, bit-identical to it), tuned (fp32, BN folded + "
        "channels_last: same keypoints, faster) or fast (tuned + autocast + TF32: measured drift); recorded",
    )
    p.add_argument(
        "--amp-dtype",
        choices=AMP_DTYPES,
        default=None,
        help="autocast dtype of --mode fast (default: float16 on CUDA, bfloat16 on the CPU)",
    )
    p.add_argument(
        "--crop-backend",
        choices=CROP_BACKENDS,
        default="cv2",
        help="cv2.warpAffine, or its integer-exact torch twin on the device (bit-identical)",
    )
    add_scoring_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint under a documented row's protocol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", metavar="ID", help="entry id, or ENTRY/ROW (e.g. higher_hrnet32_coco_512x512/multi-scale)")
    p.add_argument("--row", metavar="NAME", help="result row of the entry (default: its first row)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="PATH",
        help="weights to evaluate (default: the entry's published file, fetched and verified)",
    )
    add_data_root_argument(p, what="dataset root in the reference layout")
    p.add_argument("--ann-file", type=Path, metavar="F", help="annotation file (instead of --data-root)")
    p.add_argument("--img-dir", type=Path, metavar="DIR", help="image folder (with --ann-file)")
    p.add_argument("--bbox-file", type=Path, metavar="F", help="detector boxes (COCO results format)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files in --out that this harness did not write, or that another run wrote",
    )
    p.add_argument("--offline", action="store_true", help="never download; use the cache or --checkpoint")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=512,
        metavar="N",
        help="instances per resumable chunk, also the unit shared out under torchrun (bottom-up: N/32 images)",
    )
    add_run_arguments(p)
    p.set_defaults(func=run)


def _scales(text: str) -> tuple[float, ...]:
    """Comma-separated numbers; whether they are valid scales for the row is the registry's rule, applied with the
    row's paradigm by harness.spec.build_spec (before any download or model build)."""
    try:
        return tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 2,1,0.5, got {text!r}") from None


def resolve_data(result, registry, args: argparse.Namespace):
    """DataPaths from --ann-file/--img-dir, or from the dataset's reference layout under the data root."""
    from harness.data.layout import resolve_split
    from harness.spec import DataPaths

    if args.ann_file or args.img_dir:
        if not (args.ann_file and args.img_dir):
            raise DataError("--ann-file and --img-dir go together (or use --data-root for the reference layout)")
        for path in (args.ann_file, args.img_dir, args.bbox_file):
            if path is not None and not path.exists():
                raise DataError(f"{path} does not exist")
        return DataPaths(args.ann_file, args.img_dir, args.bbox_file, reference_layout=False)
    root = args.data_root or settings.data_root()
    dataset = registry.datasets[result.dataset]
    split = dataset.splits[result.split]
    # resolve_split raises with every missing path, the expected layout and where to get the data.
    resolved = resolve_split(split, root, dataset=dataset.name, homepage=dataset.homepage)
    bbox = args.bbox_file or resolved.bbox_file
    return DataPaths(
        resolved.ann_file, resolved.img_dir, bbox, reference_layout=args.bbox_file is None, root=resolved.root
    )


def resolve_checkpoint(entry, path: Path | None, *, offline: bool) -> Path:
    from harness.checkpoints.store import fetch

    if path is not None:
        if not path.is_file():
            raise HarnessError(f"--checkpoint {path} is not a file")
        return path
    return fetch(entry.checkpoint, offline=True if offline else None, progress=sys.stderr.isatty())


def spec_from_args(args: argparse.Namespace, registry, result, data, checkpoint: Path | None = None):
    """harness.spec.build_spec with the run arguments shared by `evaluate` and `reproduce`; a warning, once per
    process, when the chosen mode is slow on this machine (harness.runtime.autocast_note)."""
    from harness import runtime
    from harness.spec import build_spec

    spec = build_spec(
        registry,
        result,
        data=data,
        checkpoint=checkpoint,
        protocol_name=args.protocol,
        flip=False if args.no_flip else None,
        scales=args.scales,
        bbox_file=getattr(args, "bbox_file", None),
        device=args.device,
        mode=args.mode,
        amp_dtype=args.amp_dtype,
        batch_size=args.batch_size,
        workers=args.workers,
        limit=args.limit,
        crop_backend=args.crop_backend,
        scoring=args.scoring,
        chunk_size=args.chunk_size,
    )
    note = runtime.autocast_note(spec.settings)
    if note is not None and note not in _WARNED:
        _WARNED.add(note)
        print(f"warning: {note}", file=sys.stderr)
    return spec


#: Warnings printed by this process (a reproduce of many rows says each once).
_WARNED: set[str] = set()


def run(args: argparse.Namespace) -> int:
    from harness import distributed, runtime

    # Under torchrun: join the process group (a no-op otherwise); every rank takes the same path through run().
    ctx = distributed.setup(device=runtime.resolve_device(args.device))
    try:
        rc = _run(args, ctx)
        ctx.barrier()  # rank 0 has written the files: every rank leaves together, with the same status
        return rc
    finally:
        distributed.shutdown()


def _run(args: argparse.Namespace, ctx) -> int:
    from harness import outputs
    from harness.engine import run_evaluation
    from zoo import load_registry

    registry = load_registry()
    result = registry.row(args.id, args.row, first_if_many=True)
    entry = registry.entry(result.entry_id)
    if "/" not in args.id and not args.row and len(entry.results) > 1 and ctx.is_main:
        others = ", ".join(r.name for r in entry.results[1:])
        print(f"note: {entry.id} has several rows; running {result.row_id} (others: {others}; pick with --row)",
              file=sys.stderr)  # fmt: skip
    # Every argument and the output folder are checked before the data look-up, the checkpoint download and the
    # model build.
    spec = spec_from_args(args, registry, result, data=None)
    outputs.check(args.out, run_key=None, overwrite=args.overwrite)
    spec = dataclasses.replace(spec, data=resolve_data(result, registry, args))
    # Rank 0 downloads (if needed) first; the other ranks then find the checkpoint in the cache.
    checkpoint = ctx.main_first(lambda: resolve_checkpoint(entry, args.checkpoint, offline=args.offline))
    spec = dataclasses.replace(
        spec, checkpoint=checkpoint, published_checkpoint=args.checkpoint is None, offline=args.offline or None
    )
    outcome = run_evaluation(
        spec, registry=registry, out_dir=args.out, progress=not args.no_progress, overwrite=args.overwrite
    )
    if ctx.is_main:
        record = outcome.record
        summary = {
            "row": result.row_id,
            "protocol": spec.protocol_name,
            "overrides": spec.overrides,
            "partial": record.partial,
            "counts_as_reproduction": not record.informational,
            "informational": list(record.informational),
            "metrics": record.metrics,
            "out": str(args.out),
        }
        print(json.dumps(summary, indent=2))
    return 0
