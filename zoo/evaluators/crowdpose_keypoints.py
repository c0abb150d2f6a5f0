"""CrowdPose's OKS AP with its crowd-index bins (PROTOCOLS.md §5 "CrowdPose"); harness.metrics.evaluators scores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from zoo.evaluators.base import EvaluatorRecord
from zoo.evaluators.coco_keypoints import METRICS as COCO_METRICS

#: AP over the three crowd-index bins of xtcocotools' `keypoints_crowd`.
CROWD_BINS = ("AP(E)", "AP(M)", "AP(H)")
#: The COCO-style names besides the bins: AR and AR50 are computed too, though the pages print only AP, AP50, AP75,
#: AP(E), AP(M), AP(H).
METRICS = (*COCO_METRICS, *CROWD_BINS)


@dataclass(frozen=True)
class CrowdPoseEvaluator(EvaluatorRecord):
    """xtcocotools' `keypoints_crowd` evaluation: COCO-style OKS AP plus AP per crowd-index bin. Only xtcocotools has
    it, and MMPose 0.29 calls it with use_area False; the record fixes both, so zoo.yaml may restate them, never
    name them wrongly. The crowdIndex of every image is checked by the scorer's `fields_read`."""

    kind: Literal["crowdpose_keypoints"] = field(default="crowdpose_keypoints", init=False)
    library: Literal["xtcocotools"] = "xtcocotools"
    #: Name of the keypoint schema whose sigmas are used.
    sigmas: str = field(kw_only=True, metadata={"schema_with_sigmas": True})
    use_area: Literal[False] = False
    # The fields main's record had from the COCO record it subclassed; kept (always None) so that its plain data
    # (result.json, history, exports) stays the same.
    pck_threshold: None = field(default=None, init=False)
    normalize: None = field(default=None, init=False)

    metrics: ClassVar[tuple[str, ...]] = METRICS
    page_columns: ClassVar[Mapping[str, str]] = {
        **{m: m for m in METRICS},
        **{f"AP ({b[3]})": b for b in CROWD_BINS},  # MMPose's pages print `AP (E)`
    }

    @property
    def sigmas_schema(self) -> str | None:
        return self.sigmas

    def mmpose029(self) -> CrowdPoseEvaluator:
        return self  # xtcocotools' keypoints_crowd in every era

    def words(self) -> str:
        return f"scored with {self.library} ({self.sigmas} sigmas, OKS area 0.53 x box area, AP per crowd-index bin)"

    def summary(self) -> str:
        return f"{self.library} keypoints_crowd ({self.sigmas} sigmas, area=0.53*bbox)"

    def details(self) -> str:
        return f"{self.kind} ({self.library}, sigmas {self.sigmas}, use_area {self.use_area})"
