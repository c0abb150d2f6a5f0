"""What the exported formats (model-index metafiles, Hub model cards, search) share: the collection of each head,
the licence and a protocol in words (a dataset's task is zoo.yaml's; the run of record of each row and its verdict
are zoo.results.standing's, which the README tables and reports read too).

Defined once here so that the metafiles and the cards cannot disagree. torch-free, no third-party imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.errors import ExportError  # noqa: F401 (its old import path: tests/test_errors.py)
from zoo.registry.schema import BottomUpProtocol, DocumentedRow, Entry, Protocol, TopDownProtocol

HUB_TASK = "keypoint-detection"
#: MMPose and its checkpoints are Apache-2.0 (as is this project, which trained the demo checkpoint).
LICENSE = "apache-2.0"
#: MMPose's metric names, as its metafiles write them (what `mim search` and Papers with Code show), for the names
#: zoo.yaml uses; a name not listed is spelled the same in both (AP, AR, PCK@0.3, NME).
MMPOSE_METRICS = {"AP50": "AP@0.5", "AP75": "AP@0.75", "AR50": "AR@0.5"}


def exported_metric(name: str) -> str:
    """A metric's name in the exports (MMPose's vocabulary): AP50 -> AP@0.5."""
    return MMPOSE_METRICS.get(name, name)


@dataclass(frozen=True)
class Collection:
    """An MMPose metafile Collection: one per paper a model-zoo page is about."""

    name: str
    paper: str  # bibtex key in papers.bib (its title is the Paper's Title, as MMPose writes it)
    url: str  # the paper's link on MMPose's pages (the <summary> above its bibtex block)
    # MMPose's Collections also carry a README URL; the model-index checker reads README as a local file and
    # rejects a URL (MMPose's own metafiles fail its check for that), so it is left out.


_CVPR = "http://openaccess.thecvf.com/content_CVPR_"
COLLECTIONS = {
    c.name: c
    for c in (
        Collection(
            "HRNet",
            "sun2019deep",
            f"{_CVPR}2019/html/Sun_Deep_High-Resolution_Representation_Learning_for_Human_Pose_Estimation"
            "_CVPR_2019_paper.html",
        ),
        Collection(
            "HigherHRNet",
            "cheng2020higherhrnet",
            f"{_CVPR}2020/html/Cheng_HigherHRNet_Scale-Aware_Representation_Learning_for_Bottom-Up_Human_Pose"
            "_Estimation_CVPR_2020_paper.html",
        ),
        Collection(
            "DarkPose",
            "zhang2020distribution",
            f"{_CVPR}2020/html/Zhang_Distribution-Aware_Coordinate_Representation_for_Human_Pose_Estimation"
            "_CVPR_2020_paper.html",
        ),
        Collection(
            "UDP",
            "Huang_2020_CVPR",
            f"{_CVPR}2020/html/Huang_The_Devil_Is_in_the_Details_Delving_Into_Unbiased_Data_CVPR_2020_paper.html",
        ),
        Collection("Albumentations", "buslaev2020albumentations", "https://www.mdpi.com/649002"),
    )
}
#: Technique papers an entry may cite (bibtex key) -> (its collection, its tag in a model's Architecture, or None
#: where MMPose lists none: an augmentation is training, not architecture).
TECHNIQUES = {
    "zhang2020distribution": ("DarkPose", "DarkPose"),
    "Huang_2020_CVPR": ("UDP", "UDP"),
    "buslaev2020albumentations": ("Albumentations", None),
}


def architecture_tags(entry: Entry) -> list[str]:
    """A model's Architecture as MMPose's metafiles write it: the grouping head of a bottom-up model, the backbone
    (HigherHRNet for the higher-resolution head), then the decoding technique (DarkPose, UDP)."""
    tags = ["Associative Embedding"] if entry.paradigm == "bottomup" else []
    tags.append("HigherHRNet" if entry.architecture.head == "higher_resolution" else "HRNet")
    return tags + [TECHNIQUES[k][1] for k in entry.papers if k in TECHNIQUES and TECHNIQUES[k][1]]


def collection_of(entry: Entry) -> Collection:
    """The Collection MMPose files the entry's model under: HigherHRNet for that head (UDP included, as MMPose does),
    else the technique its page is about (DarkPose, UDP, Albumentations), else HRNet (AE on HRNet included)."""
    if entry.architecture.head == "higher_resolution":
        return COLLECTIONS["HigherHRNet"]
    technique = next((TECHNIQUES[k][0] for k in entry.papers if k in TECHNIQUES), "HRNet")
    return COLLECTIONS[technique]


def protocol_words(p: Protocol) -> str:
    """The protocol of a row as one sentence (the facts of zoo.yaml, PROTOCOLS.md §2-§5)."""
    topdown = isinstance(p, TopDownProtocol)
    parts = ["top-down" if topdown else "bottom-up"]
    if topdown:
        boxes = "ground-truth boxes" if p.boxes.kind == "gt" else f"detector boxes from {p.boxes.file}"
        if p.boxes.kind == "detector" and p.boxes.score_threshold:
            boxes += f" (score >= {p.boxes.score_threshold:g})"
        parts.append(f"{boxes}, padding {p.padding:g}")
    flip = "flip test" + (" with the flipped heatmap shifted one column" if topdown and p.shift_heatmap else "")
    parts.append(flip if p.flip else "no flip test")
    parts.append("single scale" if tuple(p.scales) == (1.0,) else "scales " + ", ".join(f"{s:g}" for s in p.scales))
    if topdown and (p.vis_thr is not None or p.oks_nms_thr is not None):
        parts.append(f"rescoring above {p.vis_thr:g}, OKS-NMS at {p.oks_nms_thr:g}")
    if isinstance(p, BottomUpProtocol):
        parts.append(
            f"grouping up to {p.max_num_people} people (detection {p.detection_threshold:g}, tag "
            f"{p.tag_threshold:g}, NMS kernel {p.nms_kernel}{', adjust' if p.adjust else ''}"
            f"{', refine' if p.refine else ''})"
        )
        if p.affine == "udp":
            parts.append("unbiased data processing (UDP)")
    parts.append(p.evaluator.words())
    parts.append(f"era {p.era.name}")
    return "; ".join(parts)


def model_name(result: DocumentedRow) -> str:
    """The distinct name of a result row in the exports: its row id (`ENTRY/ROW`), the name every verb accepts.
    MMPose's own metafiles give single- and multi-scale rows of one checkpoint the same Name; this never does."""
    return result.row_id


def weights_url(entry: Entry) -> str:
    """The checkpoint URL; a `file:` checkpoint shipped in the repository becomes its repository path."""
    return entry.checkpoint.url.removeprefix("file:")
