"""COCO-style keypoint AP/AR: identity with raw xtcocotools, AIC area semantics, the zero-score filter,
the per-keypoint breakdown and input validation (PROTOCOLS.md §5, §8 item 2)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from harness.errors import DataError, MetricError, PredictionError
from harness.metrics.coco import evaluate_coco_keypoints

REPORTED = ("AP", "AP50", "AP75", "AR", "AR50")
SEEDS = range(6)


@pytest.mark.parametrize("library", ["xtcocotools", "pycocotools"])
@pytest.mark.parametrize("dataset", ["aic", "coco", "macaque", "atrw"])
def test_identity_with_xtcocotools_on_perturbed_gt(
    dataset, library, coco_datasets, load_sample, make_predictions, xt_reference
):
    rel, sigmas, use_area = coco_datasets[dataset]
    path, gt = load_sample(rel)
    seen = set()
    for seed in SEEDS:
        # pycocotools keeps all-zero-score predictions (xtcocotools drops them), so only the xtcocotools path
        # gets such predictions here; the difference has its own test below.
        preds = make_predictions(gt, seed=seed, all_zero_fraction=0.1 if library == "xtcocotools" else 0.0)
        expected = xt_reference(path, preds, sigmas, use_area)
        got = evaluate_coco_keypoints(
            preds, path, sigmas=sigmas, use_area=use_area, library=library, per_keypoint=False
        )
        for name in REPORTED:
            assert got.metrics[name] == pytest.approx(expected[name], abs=1e-6), (dataset, library, seed, name)
        seen.add(round(expected["AP"], 6))
    assert len(seen) > 1, "the perturbations should move AP; the test would prove nothing otherwise"


def test_all_stats_identical_and_inputs_untouched(coco_datasets, load_sample, make_predictions, xt_reference):
    rel, sigmas, use_area = coco_datasets["coco"]
    path, gt = load_sample(rel)
    preds = make_predictions(gt, seed=11, all_zero_fraction=0.1)
    preds_before, gt_before = copy.deepcopy(preds), copy.deepcopy(gt)
    got = evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=use_area, per_keypoint=True)
    assert got.metrics == pytest.approx(xt_reference(path, preds, sigmas, use_area), abs=1e-12)
    assert preds == preds_before and gt == gt_before
    assert got.num_predictions == len(preds)
    assert got.num_dropped_zero_score == sum(1 for p in preds if not any(p["keypoints"][2::3]))


@pytest.mark.parametrize("library", ["xtcocotools", "pycocotools"])
def test_no_predictions_scores_zero(library, coco_datasets, load_sample, xt_reference):
    rel, sigmas, use_area = coco_datasets["aic"]
    path, _ = load_sample(rel)
    got = evaluate_coco_keypoints([], path, sigmas=sigmas, use_area=use_area, library=library)
    assert got.metrics["AP"] == 0.0 and got.metrics["AR"] == 0.0
    assert got.metrics == pytest.approx(xt_reference(path, [], sigmas, use_area))


# --- hand-built single-instance case -------------------------------------------------------------------------------

AIC_SIGMAS = np.array([0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
                       0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173])  # fmt: skip


def _one_person(area: float | None) -> dict:
    """One 100 x 100 box at (50, 50) in a 200 x 200 image, 14 visible joints on a diagonal."""
    kp = [v for k in range(14) for v in (55.0 + 6 * k, 60.0 + 5 * k, 2)]
    ann = {"id": 1, "image_id": 7, "category_id": 1, "bbox": [50, 50, 100, 100], "keypoints": kp, "num_keypoints": 14}
    if area is not None:
        ann["area"] = area
    return {
        "images": [{"id": 7, "width": 200, "height": 200, "file_name": "x.jpg"}],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"j{k}" for k in range(14)]}],
        "annotations": [ann],
    }


def _shifted(gt: dict, dx: np.ndarray, *, joint_score: float = 0.9, score: float = 0.9) -> dict:
    kp = np.asarray(gt["annotations"][0]["keypoints"], dtype=np.float64).reshape(14, 3)
    kp[:, 0] += dx
    kp[:, 2] = joint_score
    return {"image_id": 7, "category_id": 1, "keypoints": kp.ravel().tolist(), "score": score}


@pytest.mark.parametrize("library", ["xtcocotools", "pycocotools"])
def test_aic_area_semantics(library):
    # Every joint is moved so that its keypoint similarity is 0.62 with OKS area A = 10000 (the GT `area`):
    # d_k^2 = -ln(0.62) * 2 * (2 sigma_k)^2 * A. With use_area=False, A = 0.53 * 100 * 100 = 5300, so
    # e grows by 10000 / 5300 and OKS = 0.62 ** 1.887 = 0.406.
    #   use_area=True : OKS 0.62 passes thresholds .50 .55 .60 of ten -> AP = 3/10, AP50 = 1, AP75 = 0.
    #                   area 10000 > 96^2 -> 'large': APl = 0.3, APm = -1 (no medium GT).
    #   use_area=False: OKS 0.406 < .50 -> AP = AP50 = 0; area-range filter also uses 5300 (32^2 < 5300 < 96^2)
    #                   -> 'medium': APm = 0, APl = -1 (PROTOCOLS.md §8 item 2).
    gt = _one_person(area=10000.0)
    dx = np.sqrt(-np.log(0.62) * 2 * (2 * AIC_SIGMAS) ** 2 * 10000.0)
    preds = [_shifted(gt, dx)]
    with_area = evaluate_coco_keypoints(preds, gt, sigmas=AIC_SIGMAS, use_area=True, library=library)
    bbox_area = evaluate_coco_keypoints(preds, gt, sigmas=AIC_SIGMAS, use_area=False, library=library)
    # (precision is tp / (tp + fp + eps) in both libraries, hence approx)
    expect_with_area = {"AP": 0.3, "AP50": 1.0, "AP75": 0.0, "APl": 0.3, "APm": -1.0, "AR": 0.3, "AR50": 1.0}
    expect_bbox_area = {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "APl": -1.0, "APm": 0.0, "AR": 0.0, "AR50": 0.0}
    assert {k: with_area.metrics[k] for k in expect_with_area} == pytest.approx(expect_with_area, abs=1e-12)
    assert {k: bbox_area.metrics[k] for k in expect_bbox_area} == pytest.approx(expect_bbox_area, abs=1e-12)


def test_aic_file_without_area_needs_use_area_false(coco_datasets, load_sample):
    rel, sigmas, _ = coco_datasets["aic"]
    path, gt = load_sample(rel)
    assert all("area" not in a and "iscrowd" not in a for a in gt["annotations"])
    with pytest.raises(DataError, match="use_area=False"):
        evaluate_coco_keypoints([], path, sigmas=sigmas, use_area=True)


def test_all_zero_score_prediction_dropped_only_by_xtcocotools():
    # A perfect pose with instance score 0.9 but every keypoint score exactly 0: xtcocotools ignores it
    # (PROTOCOLS.md §5), pycocotools matches it to the GT.
    gt = _one_person(area=10000.0)
    preds = [_shifted(gt, np.zeros(14), joint_score=0.0)]
    xt = evaluate_coco_keypoints(preds, gt, sigmas=AIC_SIGMAS, use_area=True, library="xtcocotools")
    pc = evaluate_coco_keypoints(preds, gt, sigmas=AIC_SIGMAS, use_area=True, library="pycocotools")
    assert (xt.metrics["AP"], xt.metrics["AR"], xt.num_dropped_zero_score) == (0.0, 0.0, 1)
    assert (pc.metrics["AP"], pc.metrics["AR"], pc.num_dropped_zero_score) == (pytest.approx(1.0), 1.0, 0)
    # One non-zero joint score is enough to keep it.
    preds[0]["keypoints"][2] = 1e-6
    assert evaluate_coco_keypoints(preds, gt, sigmas=AIC_SIGMAS, use_area=True).metrics["AP"] == pytest.approx(1.0)


# --- per-keypoint breakdown ----------------------------------------------------------------------------------------


def _perfect(gt: dict) -> list[dict]:
    """GT poses of every scored (non-crowd, labelled) instance; unlabelled joints at the box centre."""
    preds = []
    for i, ann in enumerate(gt["annotations"]):
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        if ann.get("iscrowd") or not (kp[:, 2] > 0).any():
            continue
        x, y, w, h = ann["bbox"]
        kp[:, :2] = np.where(kp[:, 2:3] > 0, kp[:, :2], [x + w / 2, y + h / 2])
        kp[:, 2] = 0.9
        preds.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                      "score": 0.5 + 0.01 * i})  # fmt: skip
    return preds


@pytest.mark.parametrize("dataset", ["coco", "aic"])
def test_per_keypoint_perfect_then_one_joint_corrupted(dataset, coco_datasets, load_sample):
    rel, sigmas, use_area = coco_datasets[dataset]
    _, gt = load_sample(rel)
    names = gt["categories"][0]["keypoints"]
    labelled = np.array([a["keypoints"][2::3] for a in gt["annotations"]]).max(axis=0) > 0
    preds = _perfect(gt)
    perfect = evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=use_area)
    assert perfect.metrics["AP"] == 1.0
    assert list(perfect.per_keypoint) == names
    for k, name in enumerate(names):
        assert perfect.per_keypoint[name] == ({"AP": 1.0, "AR": 1.0} if labelled[k] else {"AP": -1.0, "AR": -1.0})

    j = 9  # a wrist in both schemas; move it by 30% of the box size in every prediction
    assert labelled[j]
    corrupted = copy.deepcopy(preds)
    for p in corrupted:
        ann_scale = 0.3 * math.sqrt(max(a["bbox"][2] * a["bbox"][3] for a in gt["annotations"]))
        p["keypoints"][3 * j] += ann_scale
    got = evaluate_coco_keypoints(corrupted, gt, sigmas=sigmas, use_area=use_area)
    assert got.per_keypoint[names[j]]["AP"] < 0.5
    for k, name in enumerate(names):
        if k != j:
            assert got.per_keypoint[name] == perfect.per_keypoint[name], name


def test_per_keypoint_can_be_skipped(coco_datasets, load_sample):
    rel, sigmas, use_area = coco_datasets["atrw"]
    _, gt = load_sample(rel)
    got = evaluate_coco_keypoints(_perfect(gt), gt, sigmas=sigmas, use_area=use_area, per_keypoint=False)
    assert got.per_keypoint == {} and got.metrics["AP"] == 1.0


# --- validation ----------------------------------------------------------------------------------------------------


@pytest.fixture()
def aic(coco_datasets, load_sample):
    rel, sigmas, _ = coco_datasets["aic"]
    _, gt = load_sample(rel)
    return gt, sigmas, _perfect(gt)


def test_unknown_image_ids_are_listed(aic):
    gt, sigmas, preds = aic
    preds[0] = {**preds[0], "image_id": 424242}
    preds[1] = {**preds[1], "image_id": 313131}
    with pytest.raises(PredictionError, match="not in the annotations: 313131, 424242") as info:
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=False)
    assert isinstance(info.value, ValueError)


def test_wrong_keypoint_count_names_expected_k(aic):
    gt, sigmas, preds = aic
    preds[2] = {**preds[2], "keypoints": preds[2]["keypoints"] + [1.0, 2.0, 0.5] * 3}  # 17 joints for AIC's 14
    with pytest.raises(PredictionError, match=r"3\*K = 42 values \(K = 14 keypoints.*#2 \(51 values\)"):
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=False)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12"])
def test_non_finite_values_rejected(aic, bad):
    gt, sigmas, preds = aic
    preds[1] = {**preds[1], "keypoints": [bad, *preds[1]["keypoints"][1:]]}
    with pytest.raises(PredictionError, match="non-finite"):
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=False)
    preds = _perfect(gt)
    preds[0] = {**preds[0], "score": math.nan}
    with pytest.raises(PredictionError, match="predictions 0 hold"):
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=False)


def test_sigmas_must_match_k_and_library_known(aic):
    gt, sigmas, preds = aic
    with pytest.raises(DataError, match="17 OKS sigmas given for annotations with K = 14"):
        evaluate_coco_keypoints(preds, gt, sigmas=[0.05] * 17, use_area=False)
    with pytest.raises(MetricError, match="library must be one of"):
        evaluate_coco_keypoints(preds, gt, sigmas=sigmas, use_area=False, library="cocoapi")  # type: ignore[arg-type]


def test_numpy_typed_predictions_accepted(aic):
    gt, sigmas, preds = aic
    as_numpy = [
        {**p, "image_id": np.int64(p["image_id"]), "keypoints": np.asarray(p["keypoints"], dtype=np.float32),
         "score": np.float32(p["score"])}
        for p in preds
    ]  # fmt: skip
    as_lists = [{**p, "keypoints": [float(v) for v in q["keypoints"]], "score": float(q["score"])}
                for p, q in zip(preds, as_numpy, strict=True)]  # fmt: skip
    got = evaluate_coco_keypoints(as_numpy, gt, sigmas=sigmas, use_area=False, per_keypoint=False)
    expected = evaluate_coco_keypoints(as_lists, gt, sigmas=sigmas, use_area=False, per_keypoint=False)
    assert got.metrics == expected.metrics
