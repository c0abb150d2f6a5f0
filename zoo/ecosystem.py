"""What the exported formats (model-index metafiles, Hub model cards, search) share: the collection of each head,
the licence, a protocol in words, and the run of record of each row (a dataset's task is zoo.yaml's).

Defined once here so that the metafiles and the cards cannot disagree. torch-free, no third-party imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo import history
from zoo.errors import ExportError  # noqa: F401 (its old import path: tests/test_errors.py)
from zoo.record import counts_as_reproduction
from zoo.schema import BottomUpProtocol, DocumentedRow, Entry, Protocol, Registry, TopDownProtocol
from zoo.verdicts import RowVerdict, row_verdict

HUB_TASK = "keypoint-detection"
#: MMPose and its checkpoints are Apache-2.0 (as is this project, which trained the demo checkpoint).
LICENSE = "apache-2.0"
#: Head kind -> (collection name, bibtex key of its paper, architecture tags).
COLLECTIONS = {
    "heatmap": ("HRNet", "sun2019deep", ("HRNet",)),
    "associative_embedding": ("Associative Embedding", "newell2017associative", ("HRNet", "Associative Embedding")),
    "higher_resolution": ("HigherHRNet", "cheng2020higherhrnet", ("HRNet", "HigherHRNet")),
}


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
    parts.append(p.evaluator.words())
    parts.append(f"era {p.era.name}")
    return "; ".join(parts)


def model_name(result: DocumentedRow) -> str:
    """The distinct name of a result row in the exports: its row id (`ENTRY/ROW`), the name every verb accepts.
    MMPose's own metafiles give single- and multi-scale rows of one checkpoint the same Name; this never does."""
    return result.row_id


@dataclass(frozen=True)
class RunOfRecord:
    """A row's latest run of record (zoo.history.latest_by_row) with its verdict against the documented numbers."""

    record: history.RunRecord
    verdict: RowVerdict

    @property
    def label(self) -> str:
        return history.shown_verdict(self.verdict.label, self.record)

    @property
    def counts(self) -> bool:
        """Only a run that counts as a reproduction (zoo.record.standing: the whole data, no overrides, a numeric
        mode that keeps the numbers, the published weights) is published as reproduced numbers."""
        return counts_as_reproduction(self.record)

    @property
    def date(self) -> str:
        return self.record.date

    @property
    def device(self) -> str:
        settings = self.record.provenance.get("settings") or {}
        device = str(self.record.identity.get("device") or settings.get("device") or "unknown")
        name = settings.get("device_name")
        return f"{device} ({name})" if name and name != device else device

    @property
    def commit(self) -> str:
        git = self.record.provenance.get("git") or {}
        sha = str(git.get("sha") or "unknown")
        return f"{sha} (dirty)" if git.get("dirty") else sha

    @property
    def annotations_sha256(self) -> str | None:
        return self.record.identity.get("annotations_sha256")

    def provenance(self) -> dict[str, Any]:
        return {
            "verdict": self.label,
            "date": self.date,
            "device": self.device,
            "harness_commit": self.commit,
            "run_key": self.record.run_key,
            "protocol": self.record.protocol,
        }


def runs_of_record(registry: Registry, records: list[history.RunRecord]) -> dict[str, RunOfRecord]:
    """row_id -> its run of record, for the rows of the registry that have one (the `published` protocol)."""
    latest = history.latest_by_row(records)
    out = {}
    for entry in registry.entries.values():
        for r in entry.results:
            rec = latest.get(r.row_id)
            if rec is not None:
                verdict = row_verdict(r.row_id, r.metrics, rec.metrics, r.tolerances, partial=rec.partial)
                out[r.row_id] = RunOfRecord(rec, verdict)
    return out


def weights_url(entry: Entry) -> str:
    """The checkpoint URL; a `file:` checkpoint shipped in the repository becomes its repository path."""
    return entry.checkpoint.url.removeprefix("file:")
