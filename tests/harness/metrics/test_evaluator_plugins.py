"""The harness's tables match the registry's vocabularies: a scorer for every evaluator kind (and no other), a loader
for every annotation format (and no other)."""

from __future__ import annotations

from typing import get_args

import pytest

from harness.data.loaders import LOADERS, TABLES, load_gt_split, read_tables
from harness.errors import DataError, MetricError
from harness.metrics.evaluators import SCORERS, score
from zoo.evaluators import EVALUATORS, make_evaluator
from zoo.evaluators.base import EvaluatorRecord
from zoo.registry.schema import AnnotationFormat


def test_one_scorer_per_evaluator_kind():
    assert list(SCORERS) == list(EVALUATORS)


def test_one_loader_per_annotation_format():
    assert set(LOADERS) == set(get_args(AnnotationFormat)) == set(TABLES)


def test_a_kind_without_scorer_is_an_error_not_a_fallback(tmp_path):
    class Unscored(EvaluatorRecord):
        kind = "unscored"

    with pytest.raises(MetricError, match="no scorer for evaluator kind 'unscored'"):
        score([], evaluator=Unscored(), gt={}, schema=None)
    with pytest.raises(DataError, match="no loader for annotation format 'mpii-mat'"):
        load_gt_split("mpii-mat", tmp_path / "a.json", img_dir=tmp_path, protocol=None, schema=None)
    with pytest.raises(DataError, match="no loader for annotation format 'mpii-mat'"):
        read_tables("mpii-mat", tmp_path / "a.json", schema=None, evaluator=None)


def test_the_result_names_its_evaluator_in_plain_data(samples_dir):
    from zoo import load_registry

    registry = load_registry()
    ev = make_evaluator("coco_keypoints", library="xtcocotools", sigmas="aic", use_area=False)
    gt = samples_dir / "aic" / "test_aic.json"
    out = score([], evaluator=ev, gt=gt, schema=registry.schemas["aic"], per_keypoint=False)
    assert out["evaluator"] == {"kind": "coco_keypoints", "library": "xtcocotools", "sigmas": "aic",
                                "use_area": False, "pck_threshold": None, "normalize": None}  # fmt: skip
