"""What the exported formats (model-index metafiles, Hub model cards, search) share: the task of each dataset, the
collection of each head, the licence and a protocol in words (the run of record of each row and its verdict are
zoo.results.standing's, which the README tables and reports read too).

Defined once here so that the metafiles and the cards cannot disagree. torch-free, no third-party imports.
"""

from __future__ import annotations

from zoo.errors import ExportError
from zoo.registry.schema import BottomUpProtocol, DocumentedRow, Entry, Protocol, TopDownProtocol

#: OpenMMLab's task names (MMPose's own metafiles use them); the Hub has one pipeline tag for all of them.
TASKS = {
    "aic": "Body 2D Keypoint",
    "coco": "Body 2D Keypoint",
    "horse10": "Animal 2D Keypoint",
    "macaque": "Animal 2D Keypoint",
    "atrw": "Animal 2D Keypoint",
    "demo": "Body 2D Keypoint",  # synthetic human-like figures (harness/demo/generate.py)
}
HUB_TASK = "keypoint-detection"
#: MMPose and its checkpoints are Apache-2.0 (as is this project, which trained the demo checkpoint).
LICENSE = "apache-2.0"
#: Head kind -> (collection name, bibtex key of its paper, architecture tags).
COLLECTIONS = {
    "heatmap": ("HRNet", "sun2019deep", ("HRNet",)),
    "associative_embedding": ("Associative Embedding", "newell2017associative", ("HRNet", "Associative Embedding")),
    "higher_resolution": ("HigherHRNet", "cheng2020higherhrnet", ("HRNet", "HigherHRNet")),
}


def task_of(dataset: str) -> str:
    try:
        return TASKS[dataset]
    except KeyError:
        raise ExportError(
            f"dataset {dataset!r} has no task name; add it to TASKS in zoo/formats/ecosystem.py "
            "(e.g. 'Body 2D Keypoint')"
        ) from None


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
    ev = p.evaluator
    if ev.kind == "coco_keypoints":
        area = "OKS area from the annotation" if ev.use_area else "OKS area 0.53 x box area"
        parts.append(f"scored with {ev.library} ({ev.sigmas} sigmas, {area})")
    else:
        parts.append(f"PCK@{ev.pck_threshold:g} and NME normalised by the {ev.normalize.replace('_', '-')} distance")
    parts.append(f"era {p.era.name}")
    return "; ".join(parts)


def model_name(result: DocumentedRow) -> str:
    """The distinct name of a result row in the exports: its row id (`ENTRY/ROW`), the name every verb accepts.
    MMPose's own metafiles give single- and multi-scale rows of one checkpoint the same Name; this never does."""
    return result.row_id


def weights_url(entry: Entry) -> str:
    """The checkpoint URL; a `file:` checkpoint shipped in the repository becomes its repository path."""
    return entry.checkpoint.url.removeprefix("file:")
