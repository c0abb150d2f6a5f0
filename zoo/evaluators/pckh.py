"""MPII's PCKh (PROTOCOLS.md §11); harness.metrics.evaluators.pckh scores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from zoo.evaluators.base import EvaluatorRecord

#: PCKh at 0.5 and at 0.1 of the head size, averaged over the joints MMPose 0.29 counts, as MMPose's pages name them.
METRICS = ("Mean", "Mean@0.1")


@dataclass(frozen=True)
class PckhEvaluator(EvaluatorRecord):
    """A joint is correct when its distance to the GT is at most `threshold` times the head size, the head size being
    `head_size_factor` times the diagonal of the GT head box."""

    kind: Literal["pckh"] = field(default="pckh", init=False)
    threshold: float  # 0.5 for `Mean`; `Mean@0.1` is always at 0.1
    head_size_factor: float  # 0.6
    #: The evaluation ground truth (GT joints, missing flags, head boxes), a MATLAB file found beside the annotation
    #: file, as the reference looks for it.
    gt_file: str = field(metadata={"bare_file_name": True})

    metrics: ClassVar[tuple[str, ...]] = METRICS
    page_columns: ClassVar[Mapping[str, str]] = {m: m for m in METRICS}

    @property
    def side_files(self) -> tuple[str, ...]:
        return (self.gt_file,)

    def mmpose029(self) -> PckhEvaluator:
        return self  # MPII's PCKh is the same in both (PROTOCOLS.md §11)

    def words(self) -> str:
        head = f"{self.head_size_factor:g} x the head box diagonal of {self.gt_file}"
        return f"PCKh at {self.threshold:g} (Mean) and at 0.1 (Mean@0.1) of the head size ({head})"

    def summary(self) -> str:
        return f"PCKh@{self.threshold:g} (head size {self.head_size_factor:g} x head box diagonal)"

    def details(self) -> str:
        return f"{self.kind} (threshold {self.threshold:g}, head size factor {self.head_size_factor:g}, {self.gt_file})"
