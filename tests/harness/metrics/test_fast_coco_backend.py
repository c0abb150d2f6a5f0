"""The scoring backend switch: `evaluate_coco_keypoints(backend=...)` and `score(backend=...)`.

"fast" gives the library's numbers bit for bit (==) and records that it ran; inputs the fast path does not model
(duplicate annotation ids here) go to the library, and the result says so.
"""

from __future__ import annotations

import copy

import pytest
from test_fast_coco import assert_identical, random_case

from harness.errors import MetricError
from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.evaluators import score
from zoo.evaluators import make_evaluator
from zoo.registry.schema import KeypointSchema


@pytest.mark.parametrize("seed", [0, 3, 8])
@pytest.mark.parametrize("library", ["xtcocotools", "pycocotools"])
def test_backend_fast_equals_library(seed: int, library: str) -> None:
    gt, preds, sigmas, use_area = random_case(seed)
    kw = dict(sigmas=sigmas, use_area=use_area, library=library, per_keypoint=seed == 0)
    fast = evaluate_coco_keypoints(preds, gt, backend="fast", **kw)
    lib = evaluate_coco_keypoints(preds, gt, **kw)
    assert (fast.backend, lib.backend) == ("fast", "library")
    assert_identical(fast, lib)
    assert fast.as_dict()["backend"] == "fast"


def test_backend_fast_falls_back_to_the_library() -> None:
    gt, preds, sigmas, use_area = random_case(1)
    gt = copy.deepcopy(gt)
    gt["annotations"][1]["id"] = gt["annotations"][0]["id"]  # duplicate ids: not modelled by the fast path
    fast = evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=use_area, backend="fast", per_keypoint=False)
    assert fast.backend == "library"


def test_backend_unknown_is_an_error() -> None:
    gt, preds, sigmas, use_area = random_case(1)
    with pytest.raises(MetricError, match="backend"):
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=use_area, backend="turbo")  # type: ignore[arg-type]


def test_score_records_the_backend(load_sample, make_predictions) -> None:
    _, gt = load_sample("coco/test_coco.json")
    preds = make_predictions(gt, seed=2)
    names = tuple(gt["categories"][0]["keypoints"])
    from benchmarks.synthetic import COCO_SIGMAS

    schema = KeypointSchema("coco", names, (), tuple(COCO_SIGMAS), tuple(range(len(names))))
    ev = make_evaluator(kind="coco_keypoints", library="xtcocotools", sigmas="coco", use_area=True)
    fast = score(preds, evaluator=ev, gt=gt, schema=schema, backend="fast")
    lib = score(preds, evaluator=ev, gt=gt, schema=schema)
    assert fast["scoring"] == {"requested": "fast", "backend": "fast"}
    assert lib["scoring"] == {"requested": "library", "backend": "library"}
    assert {k: v for k, v in fast.items() if k != "scoring"} == {k: v for k, v in lib.items() if k != "scoring"}
