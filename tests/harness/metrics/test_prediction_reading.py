"""Reading predictions fast changes no number: the typed decoder (msgspec) and orjson read every value the json
module reads, what they refuse takes the former path (same errors), and the default `score` (fast scoring, per-joint
breakdown in the same pass) prints the library's numbers, per joint included (tests/harness/metrics/conftest.py
samples; the library path `--scoring library` is the reference)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_fast_coco import LIBRARIES, _both, assert_identical, random_case
from test_score_cli import AIC_SIGMAS, _run, registry  # noqa: F401  (the fixture)

from harness.errors import PredictionError
from harness.metrics._predictions import decode_prediction_file, load_json
from harness.metrics.coco import evaluate_coco_keypoints

finite = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2**62), 2**62), st.lists(finite, min_size=3, max_size=9), finite),
        min_size=1,
        max_size=6,
    )
)
def test_readers_read_what_json_reads(tmp_path_factory, rows) -> None:
    preds = [{"image_id": i, "category_id": 1, "keypoints": kp, "score": s, "extra": [1, "x"]} for i, kp, s in rows]
    path = tmp_path_factory.mktemp("r") / "p.json"
    path.write_text(json.dumps(preds))
    ref = json.loads(path.read_text())
    assert load_json(path, what="predictions") == ref
    cols = decode_prediction_file(path)
    assert cols is not None
    assert cols.image_ids == [p["image_id"] for p in ref] and cols.category_ids == [1] * len(ref)
    assert cols.keypoints == [p["keypoints"] for p in ref] and cols.scores == [p["score"] for p in ref]
    for got, want in zip(cols.scores, (p["score"] for p in ref), strict=True):
        assert math.copysign(1, got) == math.copysign(1, want)  # -0.0 stays -0.0


@pytest.mark.parametrize(
    "text",
    ['[]', '{"a": 1}', '[{"image_id": 1.0, "keypoints": [], "score": 1}]', '[{"image_id": 1, "keypoints": [true], '
     '"score": 1}]', '[{"image_id": 1, "keypoints": [NaN], "score": 1}]', '[{"image_id": 1, "category_id": null, '
     '"keypoints": [], "score": 1}]', '[{"image_id": "1", "keypoints": [], "score": 1}]'],
)  # fmt: skip
def test_typed_decoder_refuses_what_validation_must_word(tmp_path, text) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    assert decode_prediction_file(path) is None


def test_nan_in_a_file_is_named_by_validation_on_both_backends(tmp_path) -> None:
    gt, preds, sigmas, use_area = random_case(4)
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{**preds[0], "score": float("nan")}, *preds[1:]]))  # json writes NaN
    for backend in ("fast", "library"):
        with pytest.raises(PredictionError, match="non-finite"):
            evaluate_coco_keypoints(str(path), gt, sigmas=sigmas, use_area=use_area, backend=backend)


@settings(max_examples=25, deadline=None)
@given(st.integers(1000, 10**6), st.sampled_from(LIBRARIES))
def test_per_joint_breakdown_from_files_equals_the_library(tmp_path_factory, seed, library) -> None:
    """Hypothesis-drawn random cases, read from files as `score` reads them: every metric and every joint ==."""
    gt, preds, sigmas, use_area = random_case(seed)
    assume(preds)  # ~1.5% of seeds draw no prediction; an empty file is refused (its own case above)
    folder = tmp_path_factory.mktemp("c")
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "p.json").write_text(json.dumps(preds))
    kw = {"sigmas": sigmas, "use_area": use_area, "library": library, "per_keypoint": True}
    fast, ref = _both(str(folder / "p.json"), str(folder / "gt.json"), **kw)
    assert_identical(fast, ref)


def test_default_score_is_fast_and_equals_the_library_per_joint(registry, load_sample, make_predictions,  # noqa: F811
                                                                tmp_path, capsys) -> None:  # fmt: skip
    ann, gt = load_sample("aic/test_aic.json")
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps(make_predictions(gt, seed=11, all_zero_fraction=0.1)))
    common = ["aic_td", "--predictions", str(pred_file), "--ann-file", str(ann)]
    rc, out, err = _run(common, capsys)
    assert rc == 0, err
    fast = json.loads(out)
    rc, out, err = _run([*common, "--scoring", "library"], capsys)
    assert rc == 0, err
    lib = json.loads(out)
    assert fast["scoring"] == {"requested": "fast", "backend": "fast"}
    assert lib["scoring"] == {"requested": "library", "backend": "library"}
    assert fast["per_keypoint"] == lib["per_keypoint"] and len(fast["per_keypoint"]) == 14
    assert (fast["metrics"], fast["extra_metrics"], fast["counts"]) == (lib["metrics"], lib["extra_metrics"],
                                                                       lib["counts"])  # fmt: skip


def test_default_score_falls_back_to_the_library_for_string_ids(registry, load_sample, make_predictions,  # noqa: F811
                                                                tmp_path, capsys) -> None:  # fmt: skip
    ann, gt = load_sample("aic/test_aic.json")
    gt = {**gt, "images": [{**im, "id": f"i{im['id']}"} for im in gt["images"]],
          "annotations": [{**a, "image_id": f"i{a['image_id']}"} for a in gt["annotations"]]}  # fmt: skip
    preds = [{**p, "image_id": f"i{p['image_id']}"} for p in make_predictions(json.loads(ann.read_text()), seed=2)]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "p.json").write_text(json.dumps(preds))
    rc, out, err = _run(["aic_td", "--predictions", str(tmp_path / "p.json"), "--ann-file", str(tmp_path / "gt.json")],
                        capsys)  # fmt: skip
    assert rc == 0, err
    assert json.loads(out)["scoring"] == {"requested": "fast", "backend": "library"}
