"""Typed, frozen records of the registry (zoo.yaml). Pure data: no I/O, no torch.

Sizes are (H, W) everywhere in code; zoo.yaml spells them the same way (`input_size: [256, 192]` is H=256, W=192),
unlike MMPose configs, which write (w, h).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from zoo.errors import UnknownEntryError
from zoo.evaluators import Evaluator

Paradigm = Literal["topdown", "bottomup"]
HeadKind = Literal["heatmap", "associative_embedding", "higher_resolution"]
BoxKind = Literal["gt", "detector"]
Aggregation = Literal["upsample_to_last", "direct"]
#: Numeric modes of a run (docs/PERFORMANCE.md). exact and tuned give the reference's keypoints (proven by tests);
#: fast drifts by design, so its runs never count as a reproduction (zoo.results.record.standing).
NumericMode = Literal["exact", "tuned", "fast"]
RECORD_MODES: tuple[str, ...] = ("exact", "tuned")
#: Which behaviour a run follows: the row's own (what produced the documented numbers, PROTOCOLS.md §7) or MMPose
#: 0.29's (the oracle's).
ProtocolName = Literal["published", "mmpose-0.29"]
#: COCO-style scoring: the evaluator of record's library, or harness.metrics.fast_coco (proven identical to it).
ScoringBackend = Literal["library", "fast"]
#: Top-down crops: cv2.warpAffine, or its integer-exact torch twin (harness.topdown.warp).
CropBackend = Literal["cv2", "torch"]
#: Top-down heatmap decoding (PROTOCOLS.md §3, §3.1): argmax + quarter offset, DARK (Gaussian modulation + Taylor
#: step), UDP (DARK refinement on the log heatmap, unbiased mapping back), UDP with CombinedTarget offsets.
TopDownDecoder = Literal["default", "dark", "udp", "udp-combined"]
#: Crop/resize geometry: the three-point affine, or UDP's unbiased warp matrix (top-down PROTOCOLS.md §3, §3.1;
#: bottom-up §4 "Unbiased data processing").
AffineKind = Literal["standard", "udp"]
#: Arithmetic the model runs in (PROTOCOLS.md §3.2): fp32, or MMPose 0.x's `fp16` config (conv in half, BN in float).
Precision = Literal["fp32", "fp16"]
#: What a top-down head predicts per keypoint (PROTOCOLS.md §3.1): one Gaussian heatmap, or MMPose's CombinedTarget
#: (a heatmap and x/y offset maps: 3 channels per keypoint).
HeadTarget = Literal["gaussian", "combined"]


def _frozen_map(m: Mapping | None) -> Mapping:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class KeypointSchema:
    """Keypoint names, flip pairs and OKS sigmas of one dataset family (PROTOCOLS.md §3, §5)."""

    name: str
    keypoints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...] | None
    #: Bottom-up grouping visits joints in this order (PROTOCOLS.md §4 step 3); identity when unused.
    grouping_order: tuple[int, ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Channel permutation of a horizontal flip: flip_index[k] is the joint that k becomes."""
        idx = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return tuple(idx)


@dataclass(frozen=True)
class Architecture:
    """How to build the network (PROTOCOLS.md §1)."""

    backbone: Literal["hrnet"]
    width: int  # 32 or 48
    head: HeadKind
    input_size: tuple[int, int]  # (H, W)
    heatmap_sizes: tuple[tuple[int, int], ...]  # (H, W) of each output stage at the training input size
    num_keypoints: int
    keypoint_schema: str
    #: Top-down heads only; zoo.yaml's `target:` (left out: gaussian).
    target: HeadTarget = "gaussian"

    @property
    def head_channels(self) -> int:
        """Output channels of a top-down head: K, or 3K for CombinedTarget (PROTOCOLS.md §3.1)."""
        return 3 * self.num_keypoints if self.target == "combined" else self.num_keypoints

    @property
    def paradigm(self) -> Paradigm:
        return "topdown" if self.head == "heatmap" else "bottomup"


@dataclass(frozen=True)
class HubMirror:
    """A Hugging Face Hub location holding the same bytes as the checkpoint URL."""

    repo_id: str
    filename: str
    revision: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    url: str
    #: First 8 hex digits of the file's SHA-256, as published in its name (PROTOCOLS.md §6).
    sha256_prefix: str
    log_url: str | None = None
    #: Full SHA-256 and size in bytes, once known (a fetch that verified the prefix can record them).
    sha256: str | None = None
    size: int | None = None
    mirrors: tuple[HubMirror, ...] = ()

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BoxSource:
    kind: BoxKind
    #: Detector file name (relative to the dataset's detection folder), None for GT boxes.
    file: str | None = None
    #: Detections with score below this are dropped (det_bbox_thr).
    score_threshold: float = 0.0


@dataclass(frozen=True)
class Era:
    """Behaviour that changed inside MMPose 0.x (PROTOCOLS.md §7, §8); the row records which one produced it."""

    name: str
    #: GT-box cleaning uses w-1/h-1 (model-zoo era, until 2022-05-12) instead of w/h.
    gt_box_shrink: bool = False
    #: Bottom-up stage aggregation: upsample to the last stage then to base size (before 2021-09-28) or direct.
    stage_aggregation: Aggregation | None = None
    #: Bottom-up grouping offers only the first N existing groups as matching targets (model-zoo era: 30).
    grouping_max_groups: int | None = None
    #: Top-down box scale rounding (PROTOCOLS.md §3): "ratio" = float32(w / 200) (model-zoo-era `_xywh2cs`),
    #: "size" = float32(w) / 200 in float32 (mmpose 0.29 `bbox_xywh2cs`); they differ by at most 1 ulp.
    box_scale_rounding: Literal["ratio", "size"] = "ratio"


@dataclass(frozen=True)
class BaseProtocol:
    """What decides the numbers of one documented row, in both paradigms: flip test, test scales, scoring, era.

    Never built itself: a row's protocol is a TopDownProtocol or a BottomUpProtocol, and inference reads that record
    directly (harness.topdown.inference, harness.bottomup). Every field is set by the registry reader
    (zoo.registry.protocol_reader.read_protocol): no default here can differ from what zoo.yaml says. `paradigm` is a
    field fixed by the class (not an argument), so that the plain-data form (dataclasses.asdict: result.json, exports)
    names it.
    """

    paradigm: Paradigm = field(init=False)
    flip: bool
    #: Test scale factors, processing order as written (PROTOCOLS.md §4); top-down rows: (1.0,).
    scales: tuple[float, ...]
    #: Scoring semantics (PROTOCOLS.md §5): a record of zoo.evaluators.EVALUATORS, which one its `kind` says.
    evaluator: Evaluator
    era: Era


@dataclass(frozen=True)
class TopDownProtocol(BaseProtocol):
    """A top-down row's protocol (PROTOCOLS.md §2.1, §3)."""

    paradigm: Literal["topdown"] = field(default="topdown", init=False)
    boxes: BoxSource
    padding: float
    #: The flipped heatmap is shifted one column right before averaging (PROTOCOLS.md §3).
    shift_heatmap: bool
    vis_thr: float | None  # rescoring keeps maxvals strictly above this; None: no rescoring
    oks_nms_thr: float | None  # None: no OKS-NMS
    #: Heatmap -> keypoint decoding (PROTOCOLS.md §3.1); zoo.yaml left out: "default".
    decoder: TopDownDecoder
    #: Crop geometry (PROTOCOLS.md §3.1); left out: "standard".
    affine: AffineKind
    #: Gaussian kernel size of the dark / udp / udp-combined decoders (MMPose's `modulate_kernel`); left out: 11.
    kernel: int
    #: Model arithmetic (PROTOCOLS.md §3.2); left out: "fp32".
    precision: Precision


@dataclass(frozen=True)
class BottomUpProtocol(BaseProtocol):
    """A bottom-up row's protocol: test_cfg of PROTOCOLS.md §2.2, grouping per §4."""

    paradigm: Literal["bottomup"] = field(default="bottomup", init=False)
    max_num_people: int
    detection_threshold: float
    tag_threshold: float
    nms_kernel: int
    adjust: bool
    refine: bool
    #: "udp": MMPose's `use_udp=True` (PROTOCOLS.md §4 "Unbiased data processing"); zoo.yaml leaves it out for
    #: "standard".
    affine: AffineKind

    @property
    def stage_aggregation(self) -> Aggregation:
        """The era's stage aggregation; an era without one (single-stage AE rows, where both variants coincide,
        PROTOCOLS.md §7) runs "direct"."""
        return self.era.stage_aggregation or "direct"


#: A row's protocol: which one it is, `protocol.paradigm` (or isinstance) says.
Protocol = TopDownProtocol | BottomUpProtocol


@dataclass(frozen=True)
class DocumentedRow:
    """One documented result row."""

    entry_id: str
    name: str  # unique within its entry, e.g. "single-scale", "multi-scale", "gt-bbox"
    dataset: str  # key into Registry.datasets
    split: str  # key into Dataset.splits
    metrics: Mapping[str, float]
    #: The same values exactly as the seed page prints them ("0.870", never "0.87").
    metric_text: Mapping[str, str]
    #: Absolute tolerance per metric for the "reproduced" verdict.
    tolerances: Mapping[str, float]
    source: str  # seed page the numbers come from
    protocol: Protocol
    #: The upstream page the seed was taken from (a URL), when known.
    source_page: str = ""
    #: Free-text remark, e.g. alternate values published elsewhere for the same checkpoint.
    note: str = ""

    @property
    def row_id(self) -> str:
        return f"{self.entry_id}/{self.name}"


@dataclass(frozen=True)
class DataSplit:
    """Paths relative to the data root, in the reference layout (PROTOCOLS.md §5)."""

    ann_file: str
    img_dir: str
    bbox_file: str | None = None


#: How a dataset artefact is packed: an archive we take members from, or a file used as it is.
ArchiveFormat = Literal["zip", "tar", "file"]


@dataclass(frozen=True)
class ArchiveMember:
    """A file, or a folder (both paths end in '/'), taken from an archive, and where it goes under the data root."""

    member: str  # path inside the archive (zoo.yaml `from`)
    target: str  # path relative to the data root (zoo.yaml `to`)

    @property
    def is_dir(self) -> bool:
        return self.target.endswith("/")


@dataclass(frozen=True)
class ManualStep:
    """An artefact without a direct download: where to get it and which file (harness/data prints where it goes)."""

    page: str
    file: str
    note: str = ""


@dataclass(frozen=True)
class DataSource:
    """One artefact of a dataset (an annotation archive, an image archive, a box file) and where its parts go."""

    name: str  # unique within the dataset: "annotations", "images", "detections"
    format: ArchiveFormat
    #: The downloaded file's name: the last part of the first URL, or the manual step's file.
    filename: str
    #: Archives: the members taken; "file": one member (member == filename) whose target is the file's place.
    members: tuple[ArchiveMember, ...]
    urls: tuple[str, ...] = ()
    #: Other locations of the same bytes: `hf://datasets/OWNER/REPO[@REV]/PATH` or an https URL.
    mirrors: tuple[str, ...] = ()
    #: Documented hash and size in bytes, checked from the first fetch; None: pinned on first use (data lock).
    sha256: str | None = None
    size: int | None = None
    terms: str = ""
    #: The terms need an explicit acceptance (`data fetch --accept-terms`) before anything is downloaded.
    requires_acceptance: bool = False
    manual: ManualStep | None = None
    note: str = ""

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(m.target for m in self.members)


#: Annotation file formats, each read by the loader of the same name (harness.data.loaders.LOADERS): a dataset names
#: its format in zoo.yaml (`annotations:`), and the harness picks the loader by it, never by the evaluator.
#:  - coco-json: COCO keypoint JSON; GT boxes cleaned as the row's era says (PROTOCOLS.md §5).
#:  - horse10-json: COCO keypoint JSON read Horse-10's way: every labelled instance, its raw box (PROTOCOLS.md §5).
#:  - mpii-json: MMPose's MPII JSON, a list of persons with their own center and scale, no box (PROTOCOLS.md §11).
AnnotationFormat = Literal["coco-json", "horse10-json", "mpii-json"]


@dataclass(frozen=True)
class Dataset:
    """What a dataset is, all of it from zoo.yaml: docs/DESIGN.md, "Adding a dataset"."""

    key: str  # "aic", "coco", "horse10", "macaque", "atrw"
    name: str
    paper: str  # bibtex key
    keypoint_schema: str
    splits: Mapping[str, DataSplit]
    #: OpenMMLab's task name ("Body 2D Keypoint", "Animal 2D Keypoint"), as MMPose's metafiles write it.
    task: str
    #: How its annotation files are written: the loader's key.
    annotations: AnnotationFormat
    #: The evaluator kind of record (zoo.evaluators.EVALUATORS): every row of the dataset is scored by it, so its
    #: metric names are the kind's.
    evaluator: str
    #: The dataset's own page (reference; what to download is in `sources`).
    homepage: str = ""
    #: Every artefact the splits read, in fetch order; empty when the data is made another way (the demo's generator).
    sources: tuple[DataSource, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One checkpoint."""

    id: str
    name: str
    architecture: Architecture
    checkpoint: Checkpoint
    config: str  # MMPose 0.x config path (PROTOCOLS.md §9)
    papers: tuple[str, ...]  # bibtex keys
    dataset: str
    results: tuple[DocumentedRow, ...]

    @property
    def paradigm(self) -> Paradigm:
        return self.architecture.paradigm


@dataclass(frozen=True)
class Registry:
    entries: Mapping[str, Entry]
    datasets: Mapping[str, Dataset]
    schemas: Mapping[str, KeypointSchema]
    #: bibtex key -> the entry's source text
    papers: Mapping[str, str]
    default_tolerances: Mapping[str, float] = field(default_factory=lambda: _frozen_map({}))

    def entry(self, entry_id: str) -> Entry:
        """The entry with this id; an unknown id raises UnknownEntryError listing close matches."""
        try:
            return self.entries[entry_id]
        except KeyError:
            close = difflib.get_close_matches(entry_id, list(self.entries), n=5, cutoff=0.5)
            raise UnknownEntryError("entry", entry_id, close) from None

    def row(self, ident: str, name: str | None = None, *, first_if_many: bool = False) -> DocumentedRow:
        """The one way to pick a documented row: `ENTRY/NAME`, or `ENTRY` with `name=NAME`, or `ENTRY` alone when it has
        exactly one row (or, with `first_if_many`, its first row: the caller says so). Anything else raises
        UnknownEntryError listing the candidates."""
        entry_id, _, given = ident.partition("/")
        name = name or given
        entry = self.entry(entry_id)
        if not name and (len(entry.results) == 1 or first_if_many):
            return entry.results[0]
        for r in entry.results:
            if r.name == name:
                return r
        if not name:
            rows = [r.row_id for r in entry.results]
            raise UnknownEntryError(
                "result row", f"{entry_id} (it has {len(rows)} rows: name one as ENTRY/ROW or with --row)", rows
            )
        close = difflib.get_close_matches(f"{entry_id}/{name}", [r.row_id for r in entry.results], n=5, cutoff=0.0)
        raise UnknownEntryError("result row", f"{entry_id}/{name}", close)

    def match(self, pattern: str = "*") -> list[Entry]:
        """Entries whose id matches a shell-style wildcard (case-insensitive), in registry order."""
        pat = pattern.lower()
        return [e for e in self.entries.values() if fnmatch.fnmatchcase(e.id.lower(), pat)]
