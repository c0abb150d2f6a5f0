"""What every evaluator record is: the scoring semantics of one kind, as pure data (no I/O, no torch).

A record is a frozen dataclass whose `kind` is fixed by its class (like a protocol's `paradigm`), so that its plain
data form (dataclasses.asdict: result.json, run identities, exports) names it. Its other fields are what zoo.yaml
sets under `evaluator:`; zoo.registry.protocol_reader reads them from the field types alone:

- a field without a default is required in zoo.yaml, one with a default optional; init=False fields are not read;
- bool, int, float (>= 0) and str fields are read as such, a Literal as a closed choice;
- `metadata={"yaml_choices": (...)}` narrows a Literal to what zoo.yaml may say (others are for `--protocol`);
- `metadata={"schema_with_sigmas": True}` is the name of a keypoint schema with OKS sigmas, as many as the entry's
  keypoints;
- `metadata={"bare_file_name": True}` is a file name with no folder part (a file beside the annotation file).

Its class attributes declare the metric vocabulary of the kind (zoo.evaluators.METRIC_NAMES is their union).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class EvaluatorRecord:
    """One evaluator kind's record. Never built itself: zoo.evaluators.EVALUATORS names the records."""

    kind: str = field(init=False)

    #: Metric names a documented row scored by this kind may hold, as README tables and JSON outputs spell them.
    metrics: ClassVar[tuple[str, ...]] = ()
    #: Metrics where a smaller value is better (a verdict's sign and `zoo search`'s order read this).
    lower_is_better: ClassVar[tuple[str, ...]] = ()
    #: A results-table column of MMPose's pages (as zoo.formats.pages reads a header: `AP<sup>50</sup>` is "AP50") ->
    # the
    #: metric it prints. Columns missing here make `zoo import` skip the table, naming them.
    page_columns: ClassVar[Mapping[str, str]] = {}

    @property
    def side_files(self) -> tuple[str, ...]:
        """Files the scorer reads beside the annotation file (bare names, PCKh's .mat): `data check` checks and pins
        them with the split's files, and a run compares them with the data lock like the annotation file."""
        return ()

    @property
    def sigmas_schema(self) -> str | None:
        """The keypoint schema whose OKS sigmas the scorer uses, when the kind uses any."""
        return None

    def mmpose029(self) -> EvaluatorRecord:
        """This evaluator as MMPose 0.29.0 (0.x HEAD) scores the same dataset (`--protocol mmpose-0.29`)."""
        raise NotImplementedError(f"evaluator kind {self.kind!r} declares no mmpose-0.29 form")

    def words(self) -> str:
        """The scoring as a sentence part of the exports (model-index, Hub cards)."""
        raise NotImplementedError

    def summary(self) -> str:
        """The scoring in a few words, for reports."""
        raise NotImplementedError

    def details(self) -> str:
        """Every setting, for `zoo show`."""
        raise NotImplementedError
