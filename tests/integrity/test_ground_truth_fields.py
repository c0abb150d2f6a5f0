"""Every ground-truth field a metric or a GT loader reads is checked before anything is scored (issue 22, case 7).

A NaN `area` does not fail in the COCO evaluators: OKS becomes NaN, the person matches no prediction, and AP moves
with exit status 0 (on the COCO sample below the fast scorer's AP went 0.831 -> 0.661; `evaluate` of the demo data
and the GT stand-in on the COCO sample moved too). The same holds for a NaN box, a crowd flag of "no" (truthy: the
person becomes a crowd), a negative box side (a negative OKS area: OKS above 1). Each case here is refused by `score`,
by `evaluate` and by the engine, with one line naming the file, the annotation (or image) and its id, the field,
what it must be, and what to do.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.demo import generate
from harness.demo.document import ENTRY_ID

COCO_ROW = "hrnet_w32_coco_256x192_photometric"
HORSE_ROW = "hrnet_w32_horse10_256x256_split1"
NAN, INF = math.nan, math.inf


def _ann(field, value):
    def change(gt):
        gt["annotations"][1][field] = value

    return change


def _box(i, value):
    def change(gt):
        gt["annotations"][1]["bbox"][i] = value

    return change


def _img(field, value):
    def change(gt):
        gt["images"][0][field] = value

    return change


def _keypoint(i, value):
    def change(gt):
        gt["annotations"][1]["keypoints"][i] = value

    return change


def _three_values(gt):
    gt["annotations"][1]["bbox"] = gt["annotations"][1]["bbox"][:3]


#: (test id, change, the field named, words of its rule). Annotation cases change annotations[1]; image cases images[0].
FIELD_CASES = [
    ("area-nan", _ann("area", NAN), "'area' NaN", "a finite number >= 0"),
    ("area-inf", _ann("area", INF), "'area' Infinity", "a finite number >= 0"),
    ("area-negative", _ann("area", -40.0), "'area' -40.0", "a finite number >= 0"),
    ("area-string", _ann("area", "123.5"), "'area' \"123.5\"", "a finite number >= 0"),
    ("bbox-nan", _box(0, NAN), "'bbox' [NaN,", "4 finite numbers [x, y, w, h] with w, h >= 0"),
    ("bbox-negative-width", _box(2, -3.0), "'bbox' [", "4 finite numbers [x, y, w, h] with w, h >= 0"),
    ("bbox-three-values", _three_values, "'bbox' [", "4 finite numbers [x, y, w, h] with w, h >= 0"),
    ("bbox-null", _ann("bbox", None), "'bbox' null", "4 finite numbers [x, y, w, h] with w, h >= 0"),
    ("keypoints-inf", _keypoint(3, INF), "non-finite keypoint value", "NaN or inf"),
    ("keypoints-string", _keypoint(3, "12"), "'keypoints'", "numbers"),
    ("visibility-3", _keypoint(2, 3), "keypoint visibility [3.0]", "0 (not labelled)"),
    ("iscrowd-nan", _ann("iscrowd", NAN), "'iscrowd' NaN", "0 or 1"),
    ("iscrowd-string", _ann("iscrowd", "no"), "'iscrowd' \"no\"", "0 or 1"),
    ("iscrowd-two", _ann("iscrowd", 2), "'iscrowd' 2", "0 or 1"),
    ("num_keypoints-negative", _ann("num_keypoints", -1), "'num_keypoints' -1", "a whole number >= 0"),
    ("num_keypoints-fraction", _ann("num_keypoints", 2.5), "'num_keypoints' 2.5", "a whole number >= 0"),
    ("num_keypoints-nan", _ann("num_keypoints", NAN), "'num_keypoints' NaN", "a whole number >= 0"),
    ("width-nan", _img("width", NAN), "'width' NaN", "a whole number > 0"),
    ("width-inf", _img("width", INF), "'width' Infinity", "a whole number > 0"),
    ("height-zero", _img("height", 0), "'height' 0", "a whole number > 0"),
    ("height-string", _img("height", "425"), "'height' \"425\"", "a whole number > 0"),
]
IDS = [c[0] for c in FIELD_CASES]
PARAMS = [c[1:] for c in FIELD_CASES]


def _where(gt: dict, field: str) -> str:
    if field.startswith(("'width'", "'height'")):
        return f"images[0] (id {gt['images'][0]['id']})"
    return f"annotations[1] (id {gt['annotations'][1]['id']})"


def _planted(gt: dict, change, path: Path) -> Path:
    bad = copy.deepcopy(gt)
    change(bad)
    path.write_text(json.dumps(bad))  # json.dumps writes NaN / Infinity as bare words, which JSON readers accept
    return path


def _assert_refused(rc: int, err: str, ann: Path, where: str, named: str, rule: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err
    assert f"error: {ann}: " in err and where in err and named in err and rule in err, err
    assert "fix or re-convert the annotation file" in err, err


# --- `score` on the COCO sample (the fast scorer moved AP silently on a NaN area) ----------------------------------


def _perfect_predictions(gt: dict, path: Path) -> Path:
    """Predictions a few pixels off every labelled GT person: AP well above 0 and moved by any GT change."""
    preds = []
    for a in gt["annotations"]:
        if a.get("iscrowd") or not a.get("num_keypoints"):
            continue
        kp = a["keypoints"]
        flat = [v for j in range(len(kp) // 3) for v in (kp[3 * j] + 3, kp[3 * j + 1] - 2, 0.9)]
        preds.append({"image_id": a["image_id"], "category_id": 1, "keypoints": flat, "score": 0.9})
    path.write_text(json.dumps(preds))
    return path


def _score(preds: Path, ann: Path, *extra: str) -> int:
    return main(["score", COCO_ROW, "--predictions", str(preds), "--ann-file", str(ann), "--no-per-keypoint", *extra])


@pytest.fixture(scope="module")
def coco_gt(samples_dir) -> dict:
    return json.loads((samples_dir / "coco" / "test_coco.json").read_text())


@pytest.mark.parametrize("scoring", ["library", "fast"])
def test_score_of_the_untouched_sample_runs(coco_gt, samples_dir, tmp_path, capsys, scoring):
    preds = _perfect_predictions(coco_gt, tmp_path / "p.json")
    assert _score(preds, samples_dir / "coco" / "test_coco.json", "--scoring", scoring) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["AP"] > 0.8


@pytest.mark.parametrize(("change", "named", "rule"), PARAMS, ids=IDS)
def test_score_refuses_a_malformed_ground_truth_field(coco_gt, tmp_path, capsys, change, named, rule):
    preds = _perfect_predictions(coco_gt, tmp_path / "p.json")
    ann = _planted(coco_gt, change, tmp_path / "planted.json")
    for scoring in ("library", "fast"):
        rc = _score(preds, ann, "--scoring", scoring)
        captured = capsys.readouterr()
        _assert_refused(rc, captured.err, ann, _where(coco_gt, named), named, rule)
        assert captured.out == ""


def test_score_names_every_malformed_field_at_once(coco_gt, tmp_path, capsys):
    preds = _perfect_predictions(coco_gt, tmp_path / "p.json")

    def two(gt):
        gt["annotations"][1]["area"] = NAN
        gt["annotations"][4]["area"] = NAN
        gt["annotations"][2]["iscrowd"] = "yes"

    ann = _planted(coco_gt, two, tmp_path / "planted.json")
    assert _score(preds, ann) == 2
    err = capsys.readouterr().err
    assert "'area' NaN" in err and "(2 annotations in all)" in err and "'iscrowd' \"yes\"" in err, err


def _set(path, value):
    def change(gt):
        *parents, last = path
        node = gt
        for key in parents:
            node = node[key]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value

    return change


_DROP = object()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_set(("annotations", 1), 7), "annotations[1] is 7, not a JSON object"),
        (_set(("images", 0), "x.jpg"), 'images[0] is "x.jpg", not a JSON object'),
        (_set(("annotations",), {}), "no 'annotations' list at the top level"),
        (_set(("categories",), None), "no 'categories' list at the top level"),
        (_set(("annotations", 1, "image_id"), _DROP), "annotations[1] refers to image id null, not under 'images'"),
        (_set(("annotations", 1, "image_id"), 99), "annotations[1] refers to image id 99, not under 'images'"),
        (_set(("annotations", 1, "category_id"), 2), "annotations[1] has category_id 2, not under 'categories' [1]"),
        (_set(("annotations", 1, "category_id"), _DROP), "annotations[1] (id 198196) has no 'category_id'"),
        (_set(("images", 0, "id"), _DROP), "images[0] has id null"),
        (_set(("images", 1, "id"), 785), "image id 785 appears twice under 'images'"),
    ],
    ids=["annotation-not-object", "image-not-object", "annotations-not-list", "categories-null", "no-image-id",
         "unknown-image-id", "unknown-category", "no-category", "image-without-id", "duplicate-image-id"],
)  # fmt: skip
def test_score_refuses_broken_tables_without_a_traceback(coco_gt, tmp_path, capsys, change, named):
    """The tables every evaluator indexes (was: StopIteration, TypeError, KeyError tracebacks, or a score of a file
    whose 'annotations' is no list)."""
    preds = _perfect_predictions(coco_gt, tmp_path / "p.json")
    ann = _planted(coco_gt, change, tmp_path / "planted.json")
    for scoring in ("library", "fast"):
        rc = _score(preds, ann, "--scoring", scoring)
        captured = capsys.readouterr()
        assert rc == 2 and captured.out == "" and "Traceback" not in captured.err, captured.err
        assert captured.err.startswith(f"error: {ann}") and named in captured.err, captured.err


# --- `score` of Horse-10 (PCK/NME reads keypoints and, under mmpose 0.29, the box) -------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_box(3, NAN), "'bbox' ["),
        (_keypoint(0, NAN), "non-finite keypoint value"),
        (_ann("iscrowd", "no"), "'iscrowd'"),
    ],
    ids=["bbox-nan", "keypoint-nan", "iscrowd-string"],
)
@pytest.mark.parametrize("protocol", ["published", "mmpose-0.29"])
def test_pck_score_refuses_a_malformed_ground_truth_field(samples_dir, tmp_path, capsys, change, named, protocol):
    gt = json.loads((samples_dir / "horse10" / "test_horse10.json").read_text())
    preds = _perfect_predictions(gt, tmp_path / "p.json")
    ann = _planted(gt, change, tmp_path / "planted.json")
    args = ["score", HORSE_ROW, "--predictions", str(preds), "--ann-file", str(ann), "--protocol", protocol]
    rc = main(args)
    _assert_refused(rc, capsys.readouterr().err, ann, _where(gt, "'bbox'"), named, "")


# --- `evaluate` (the demo entry: a real checkpoint, offline) -------------------------------------------------------


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate.generate(root / "demo", splits={"train": 0, "val": 4})
    return root


@pytest.mark.parametrize(("change", "named", "rule"), PARAMS, ids=IDS)
def test_evaluate_refuses_a_malformed_ground_truth_field(workspace, demo_data, tmp_path, capsys, change, named, rule):
    val = next((demo_data / "demo" / "annotations").glob("*val*.json"))
    gt = json.loads(val.read_text())
    ann = _planted(gt, change, tmp_path / "planted.json")
    out = tmp_path / "out"
    args = ["evaluate", ENTRY_ID, "--ann-file", str(ann), "--img-dir", str(demo_data / "demo" / "images" / "val")]
    rc = main([*args, "--out", str(out), "--offline", "--device", "cpu", "--no-progress"])
    _assert_refused(rc, capsys.readouterr().err, ann, _where(gt, named), named, rule)
    assert not (out / "metrics.json").exists()


# --- the engine on the COCO sample (GT stand-in: AP near 1 on clean data) ----------------------------------------


@pytest.mark.slow
def test_engine_refuses_a_nan_area_on_the_coco_sample(samples_dir, tmp_path):
    from harness.errors import DataError
    from tests.golden.cases import BY_NAME, run_case
    from zoo import load_registry

    sample = tmp_path / "samples" / "coco"
    sample.mkdir(parents=True)
    for f in (samples_dir / "coco").iterdir():
        (sample / f.name).symlink_to(f)
    gt = json.loads((samples_dir / "coco" / "test_coco.json").read_text())
    (sample / "test_coco.json").unlink()
    # annotations[1] is a person of image 40083, the image of the bottom-up stand-in case
    _planted(gt, _ann("area", NAN), sample / "test_coco.json")
    case = BY_NAME["standin_bu_hhr_coco__published"]
    with pytest.raises(DataError, match=r"annotations\[0\] \(id 198196\) has 'area' NaN"):
        run_case(case, registry=load_registry(), samples_dir=tmp_path / "samples", work=tmp_path / "work")


# --- `data check` names the same values before anything is pinned --------------------------------------------------


def test_data_check_names_a_malformed_field_and_pins_nothing(samples_dir, coco_gt, tmp_path, capsys):
    import shutil

    root = tmp_path / "data"
    (root / "coco/annotations").mkdir(parents=True)
    (root / "coco/person_detection_results").mkdir(parents=True)
    shutil.copytree(samples_dir / "coco", root / "coco/val2017", ignore=shutil.ignore_patterns("*.json"))
    shutil.copy(
        samples_dir / "coco/test_coco_det_AP_H_56.json",
        root / "coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
    )
    ann = _planted(coco_gt, _ann("area", NAN), root / "coco/annotations/person_keypoints_val2017.json")
    assert main(["data", "check", "coco", "--data-root", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{ann}: annotations[1] (id 198196) has 'area' NaN, expected a finite number >= 0" in err, err
    from harness.data import lock

    assert not lock.lock_path(root).exists()
