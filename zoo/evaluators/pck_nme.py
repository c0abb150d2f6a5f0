"""Horse-10's PCK and NME (PROTOCOLS.md §5, §8 item 11); harness.metrics.evaluators scores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from zoo.evaluators.base import EvaluatorRecord

#: Nose-eye distance normalisation (model-zoo era), or the longer GT bbox side (mmpose 0.29's Horse-10 'PCK').
PckNormalizer = Literal["nose_eye", "bbox_longer_side"]
METRICS = ("PCK@0.3", "NME")


@dataclass(frozen=True)
class PckNmeEvaluator(EvaluatorRecord):
    """PCK at a threshold (per-joint macro average) and NME."""

    kind: Literal["pck_nme"] = field(default="pck_nme", init=False)
    # Fields of registry version 1's one Evaluator record that do not apply, kept at its defaults so that the plain
    # data of earlier results and of the exports stays the same.
    library: None = field(default=None, init=False)
    sigmas: None = field(default=None, init=False)
    use_area: bool = field(default=True, init=False)
    pck_threshold: float
    # zoo.yaml documents the model-zoo era's normaliser; the other one is `--protocol mmpose-0.29`'s.
    normalize: PckNormalizer = field(metadata={"yaml_choices": ("nose_eye",)})

    metrics: ClassVar[tuple[str, ...]] = METRICS
    lower_is_better: ClassVar[tuple[str, ...]] = ("NME",)
    page_columns: ClassVar[Mapping[str, str]] = {m: m for m in METRICS}

    def mmpose029(self) -> PckNmeEvaluator:
        # MMPose 0.29's Horse-10 'PCK': PCK@0.2 by the longer bbox side, no NME.
        return PckNmeEvaluator(pck_threshold=0.2, normalize="bbox_longer_side")

    def words(self) -> str:
        return f"PCK@{self.pck_threshold:g} and NME normalised by the {self.normalize.replace('_', '-')} distance"

    def summary(self) -> str:
        return f"PCK@{self.pck_threshold:g} / NME ({self.normalize})"

    def details(self) -> str:
        return f"{self.kind} (PCK@{self.pck_threshold:g}, normalize {self.normalize})"
