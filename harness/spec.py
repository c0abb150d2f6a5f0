"""What one evaluation run is: the typed spec that evaluate, reproduce, the goldens and the benchmarks build the same
way (`build_spec`), validated before anything heavy (a download, a model build) happens.

The protocol travels as itself (zoo.registry.schema's TopDownProtocol or BottomUpProtocol, resolved and with overrides
applied), and inference reads it directly; every other field is a setting of how the run goes. What of it can
change a prediction is the run's identity (harness.identity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from harness.errors import HarnessError
from zoo.registry.schema import CropBackend, DocumentedRow, Entry, Protocol, Registry, ScoringBackend, TopDownProtocol

if TYPE_CHECKING:
    from harness.runtime import RunSettings

SCORING_BACKENDS: tuple[str, ...] = get_args(ScoringBackend)
CROP_BACKENDS: tuple[str, ...] = get_args(CropBackend)


@dataclass(frozen=True)
class DataPaths:
    ann_file: Path
    img_dir: Path
    bbox_file: Path | None = None
    #: True when the paths come from the dataset's reference layout (--data-root), not hand-picked files.
    reference_layout: bool = False
    #: The data root of the reference layout (its data lock is compared with the run's data fingerprint).
    root: Path | None = None


@dataclass(frozen=True)
class EvalSpec:
    """Everything that decides a run's predictions and metrics (plus how fast it goes)."""

    entry: Entry
    result: DocumentedRow
    protocol_name: str
    protocol: Protocol  # resolved, overrides applied
    overrides: Mapping[str, Any]
    data: DataPaths
    checkpoint: Path
    settings: RunSettings
    batch_size: int = 32
    limit: int | None = None  # the first N images of the annotation file
    crop_backend: str = "cv2"
    num_workers: int = 0
    #: Resume granularity: instances (top-down) or images (bottom-up) per saved chunk.
    chunk_size: int = 512
    #: "library" (the evaluator of record) or "fast" (harness.metrics.fast_coco, proven bit-identical to it on every
    #: test run; falls back to the library for inputs it does not model). Same numbers, so not part of the identity.
    scoring: str = "library"
    #: True when `checkpoint` is the entry's published file (from the store): the run then hashes it in full and
    #: stops on a mismatch with the registry's prefix before the first forward pass. False for the user's own file
    #: (recorded as other weights when its hash does not match: zoo.results.record.standing).
    published_checkpoint: bool = False
    #: Never use the network (a damaged published checkpoint is then an error, not a second download).
    offline: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def default_workers(paradigm: str, device: str) -> int:
    """CPU helpers beside the forward (never a change to a prediction): bottom-up grouping processes
    (harness.bottomup.parallel), top-down decode/crop threads (2 on CUDA, 0 on the CPU, whose cores the forward
    already uses)."""
    if paradigm == "bottomup":
        from harness.bottomup.parallel import default_workers as grouping_workers

        return grouping_workers()
    return 2 if device.startswith("cuda") else 0


def build_spec(
    registry: Registry,
    result: DocumentedRow,
    *,
    data: DataPaths | None,
    checkpoint: Path | None = None,
    published_checkpoint: bool = False,
    protocol_name: str = "published",
    flip: bool | None = None,
    scales: tuple[float, ...] | None = None,
    bbox_file: Path | None = None,
    device: str | None = None,
    mode: str = "exact",
    amp_dtype: str | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    limit: int | None = None,
    crop_backend: str = "cv2",
    scoring: str = "library",
    chunk_size: int = 512,
    threads: int | None = None,
) -> EvalSpec:
    """The run of `result` with these settings, every one checked here (before any download or model build).

    `data` and `checkpoint` may be left None and filled in (dataclasses.replace) once found and fetched.
    `flip` None keeps the row's flip test; `scales` are checked by the registry's rule for the row's paradigm
    (harness.protocols.apply_overrides). `bbox_file` is an override only for a row that does not already use
    detector boxes (for one that does, it just says where the file is).
    """
    from harness import runtime
    from harness.protocols import apply_overrides, run_protocol

    for name, value, least in (("batch-size", batch_size, 1), ("chunk-size", chunk_size, 1), ("workers", workers, 0)):
        if value is not None and value < least:
            raise HarnessError(f"--{name} must be at least {least}, got {value}")
    if threads is not None and threads < 1:
        raise HarnessError(f"threads must be at least 1, got {threads}")
    if limit is not None and limit < 1:
        raise HarnessError(f"--limit must be at least 1, got {limit}")
    if crop_backend not in CROP_BACKENDS:
        raise HarnessError(f"unknown crop backend {crop_backend!r}; expected one of {', '.join(CROP_BACKENDS)}")
    if scoring not in SCORING_BACKENDS:
        raise HarnessError(f"unknown scoring backend {scoring!r}; expected one of {', '.join(SCORING_BACKENDS)}")
    if amp_dtype and mode != "fast":
        raise HarnessError(f"--amp-dtype only applies to --mode fast (this run is --mode {mode})")
    protocol = run_protocol(result, protocol_name)
    override_boxes = str(bbox_file) if bbox_file is not None else None
    if override_boxes and isinstance(protocol, TopDownProtocol) and protocol.boxes.kind == "detector":
        override_boxes = None  # the row already uses detector boxes: --bbox-file only says where the file is
    protocol, overrides = apply_overrides(protocol, flip=flip, scales=scales, bbox_file=override_boxes)
    if getattr(protocol, "precision", "fp32") == "fp16" and mode != "exact":
        # tuned folds the batch norms into the convolutions and fast autocasts: either changes the half-precision
        # arithmetic the row was documented with (PROTOCOLS.md §3.2), and neither is proven to keep its keypoints.
        raise HarnessError(
            f"{result.row_id} runs its model in fp16 as documented; --mode {mode} would change that arithmetic "
            "(batch norms folded / autocast): use --mode exact for this row"
        )
    resolved_device = runtime.resolve_device(device)
    settings = runtime.RunSettings(
        device=resolved_device,
        mode=mode,
        autocast_dtype=(amp_dtype or runtime.default_amp_dtype(resolved_device)) if mode == "fast" else None,
        threads=threads,
    )
    return EvalSpec(
        entry=registry.entry(result.entry_id),
        result=result,
        protocol_name=protocol_name,
        protocol=protocol,
        overrides=overrides,
        data=data,
        checkpoint=checkpoint if checkpoint is not None else Path(),
        settings=settings,
        batch_size=batch_size,
        limit=limit,
        crop_backend=crop_backend,
        num_workers=workers if workers is not None else default_workers(protocol.paradigm, resolved_device),
        scoring=scoring,
        chunk_size=chunk_size,
        published_checkpoint=published_checkpoint,
    )
