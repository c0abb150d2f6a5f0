"""COCO-style OKS AP/AR, scored by the library of record (PROTOCOLS.md §5); harness.metrics.evaluators scores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from zoo.evaluators.base import EvaluatorRecord

#: The library whose semantics are of record.
CocoLibrary = Literal["xtcocotools", "pycocotools"]
METRICS = ("AP", "AP50", "AP75", "AR", "AR50")


@dataclass(frozen=True)
class CocoKeypointsEvaluator(EvaluatorRecord):
    """OKS AP/AR with the sigmas of a keypoint schema."""

    kind: Literal["coco_keypoints"] = field(default="coco_keypoints", init=False)
    library: CocoLibrary
    #: Name of the keypoint schema whose sigmas are used.
    sigmas: str = field(metadata={"schema_with_sigmas": True})
    #: False means OKS area = 0.53 * GT bbox w*h (AIC).
    use_area: bool = True
    # The one Evaluator record of registry version 1 had the PCK fields too; kept (always None) so that the plain
    # data of earlier results (run identities, history) and of the exports stays the same.
    pck_threshold: None = field(default=None, init=False)
    normalize: None = field(default=None, init=False)

    metrics: ClassVar[tuple[str, ...]] = METRICS
    page_columns: ClassVar[Mapping[str, str]] = {m: m for m in METRICS}

    @property
    def sigmas_schema(self) -> str | None:
        return self.sigmas

    def mmpose029(self) -> CocoKeypointsEvaluator:
        # MMPose 0.29 scores every COCO-style dataset with xtcocotools.
        return replace(self, library="xtcocotools")

    def words(self) -> str:
        area = "OKS area from the annotation" if self.use_area else "OKS area 0.53 x box area"
        return f"scored with {self.library} ({self.sigmas} sigmas, {area})"

    def summary(self) -> str:
        return f"{self.library} ({self.sigmas} sigmas{', use_area' if self.use_area else ', area=0.53*bbox'})"

    def details(self) -> str:
        return f"{self.kind} ({self.library}, sigmas {self.sigmas}, use_area {self.use_area})"
