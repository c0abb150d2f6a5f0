"""Scorers of the evaluator kinds: the ONE table, keyed by the kinds of zoo.evaluators.EVALUATORS (same keys,
tests/zoo/test_evaluators.py). Each kind is a module here with `score(...)` and `fields_read(evaluator)`, and where
it needs them `check(...)` (more checks of the annotations) and `read_truth(...)`/`select_truth(...)` (a ground
truth of its own beside the annotation file, PCKh's .mat).

`score` dispatches on the record's `kind` and returns plain JSON-ready data:

    {"metrics": {name: value for the kind's metrics},
     "extra_metrics": {...},        # COCO: APm, APl, AR75, ARm, ARl
     "per_keypoint": {joint: {...}},
     "evaluator": {...}, "counts": {...},
     "scoring": {"requested": "library" | "fast", "backend": what actually ran}}
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from harness.errors import MetricError
from harness.metrics.coco_common import check_backend
from harness.metrics.evaluators import coco_keypoints, crowdpose_keypoints, pck_nme, pckh
from zoo.evaluators import Evaluator
from zoo.registry.schema import KeypointSchema, ScoringBackend


@dataclass(frozen=True)
class Scorer:
    """What the harness does for one evaluator kind."""

    #: score(predictions, *, evaluator, gt, schema, sigmas, per_keypoint, backend) -> the dict above, less
    #: "evaluator".
    score: Callable[..., dict[str, Any]]
    #: The annotation fields the kind reads from every annotation (checked before a run's inference).
    fields_read: Callable[[Evaluator], tuple[str, ...]]
    #: check(evaluator, gt, *, source): what else the kind needs of the annotation tables (CrowdPose: a crowdIndex
    #: per image), DataError naming the first offender; None when fields_read says it all.
    check: Callable[..., None] | None = None
    #: read_truth(evaluator, *, ann_file, gt, schema): the kind's own ground truth, read beside the annotation file
    #: and checked against its tables before any inference (PCKh: MPII's .mat); None when the tables are the truth.
    #: Its `.source` (the file) is recorded as the run input "<kind>_ground_truth".
    read_truth: Callable[..., Any] | None = None
    #: select_truth(truth, gt): the part of `truth` that the tables `gt` of the selected images hold (--limit).
    select_truth: Callable[[Any, Mapping[str, Any]], Any] | None = None


#: kind -> scorer; the keys are zoo.evaluators.EVALUATORS's.
SCORERS: Mapping[str, Scorer] = MappingProxyType(
    {
        "coco_keypoints": Scorer(coco_keypoints.score, coco_keypoints.fields_read),
        "pck_nme": Scorer(pck_nme.score, pck_nme.fields_read),
        "crowdpose_keypoints": Scorer(
            crowdpose_keypoints.score, crowdpose_keypoints.fields_read, check=crowdpose_keypoints.check
        ),
        "pckh": Scorer(pckh.score, pckh.fields_read, read_truth=pckh.read_truth, select_truth=pckh.select_truth),
    }
)


def scorer_of(evaluator: Evaluator) -> Scorer:
    try:
        return SCORERS[evaluator.kind]
    except KeyError:
        raise MetricError(
            f"no scorer for evaluator kind {evaluator.kind!r}; the harness scores {', '.join(SCORERS)} "
            "(docs/DESIGN.md, 'Adding an evaluator')"
        ) from None


def fields_read(evaluator: Evaluator) -> tuple[str, ...]:
    """The annotation fields `evaluator` reads from every annotation (so they must be present)."""
    return scorer_of(evaluator).fields_read(evaluator)


def check_annotations(evaluator: Evaluator, gt: Mapping[str, Any], *, source: str) -> None:
    """The kind's own checks of the annotation tables, beyond the fields it reads (Scorer.check)."""
    found = scorer_of(evaluator).check
    if found is not None:
        found(evaluator, gt, source=source)


def read_truth(evaluator: Evaluator, *, ann_file, gt: Mapping[str, Any], schema: KeypointSchema) -> Any:
    """The kind's own ground truth beside `ann_file`, checked against the tables `gt` (Scorer.read_truth); None
    when the annotation tables are the truth."""
    found = scorer_of(evaluator).read_truth
    return None if found is None else found(evaluator, ann_file=ann_file, gt=gt, schema=schema)


def truth_key(evaluator: Evaluator) -> str:
    """The name under which a run records the file of its kind's own truth ("pckh_ground_truth")."""
    return f"{evaluator.kind}_ground_truth"


def score(
    predictions: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    evaluator: Evaluator,
    gt: Mapping[str, Any] | str | os.PathLike[str],
    schema: KeypointSchema,
    sigmas: Sequence[float] | None = None,
    per_keypoint: bool = True,
    backend: ScoringBackend = "library",
) -> dict[str, Any]:
    """Score COCO-results predictions with the semantics of `evaluator` (PROTOCOLS.md §5).

    predictions: list of {image_id, category_id, keypoints [x, y, score] * K, score} or a JSON path.
    gt: COCO-style annotation dict or path; for a kind with its own truth (Scorer.read_truth), that truth (PCKh: the
    .mat's path or harness.metrics.pckh.PckhGroundTruth).
    schema: the dataset's keypoint schema (names; sigmas unless `sigmas`).
    sigmas: [K] OKS sigmas when the evaluator's sigmas name another schema than `schema`.
    per_keypoint: COCO-style only; False skips the K single-joint evaluations (PCK's breakdown is free).
    backend: COCO-style only: "library" (xtcocotools/pycocotools, the evaluator of record) or "fast" (the
    bit-identical vectorised evaluator, harness/metrics/fast_coco.py; the library for inputs it does not model).
    The result's "scoring" records what was asked and what ran.
    Returns {"metrics": {...}, "per_keypoint": {...}, "evaluator": {...}, "counts": {...}, ...}; metric names are
    the kind's (zoo.evaluators), e.g. AP, AP50, AP75, AR, AR50 or PCK@0.3, NME (PCK for mmpose 0.29's Horse-10).
    """
    check_backend(backend)
    out = scorer_of(evaluator).score(
        predictions, evaluator=evaluator, gt=gt, schema=schema, sigmas=sigmas, per_keypoint=per_keypoint,
        backend=backend,
    )  # fmt: skip
    return {**out, "evaluator": dataclasses.asdict(evaluator)}
