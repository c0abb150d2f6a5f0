"""The fast COCO keypoint evaluator equals the library bit for bit (DESIGN.md principle 6: parity on every run).

Every comparison is ==, never approx: the ten stats, the per-keypoint AP/AR and the counts, on many seeded random
cases under both semantics (xtcocotools, pycocotools) and both OKS areas (use_area True / False), with ties in scores
and OKS, crowds, GTs without labelled joints, inconsistent num_keypoints, zero and negative annotation ids, images
without predictions or without GT, more than 20 predictions per image, all-zero and negative keypoint scores,
AIC-style files without area / iscrowd, several categories, and on the sample files of tests/data/samples.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from harness.errors import FastPathMismatchError, PredictionError
from harness.metrics import fast_coco
from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.coco_common import LIBRARIES
from harness.metrics.fast_coco import evaluate_coco_keypoints_fast


def _gt_annotation(rng: np.random.Generator, k: int, *, aic: bool, width: int, height: int) -> dict[str, Any]:
    w = float(rng.choice([6.0, 20.0, 45.0, 120.0, 300.0])) * rng.uniform(0.7, 1.3)
    h = w * rng.uniform(0.8, 2.5)
    x, y = rng.uniform(0, width - 10), rng.uniform(0, height - 10)
    if rng.random() < 0.5:  # integer boxes and joints, as in many files (and more exact ties)
        x, y, w, h = (float(round(v)) for v in (x, y, w, h))
    kp = np.zeros((k, 3))
    kp[:, 0] = x + rng.uniform(0, 1, k) * w
    kp[:, 1] = y + rng.uniform(0, 1, k) * h
    kp[:, 2] = np.where(rng.random(k) < rng.choice([0.0, 0.3, 0.9]), rng.choice([1, 2], k), 0)
    kp = np.where(kp[:, 2:3] > 0, np.round(kp) if rng.random() < 0.5 else kp, 0.0)
    ann: dict[str, Any] = {"bbox": [x, y, w, h], "keypoints": kp.ravel().tolist(), "category_id": 1}
    if not aic:
        ann["area"] = float(w * h * rng.uniform(0.3, 1.0))
        ann["iscrowd"] = int(rng.random() < 0.1)
        n = int(np.count_nonzero(kp[:, 2] > 0))
        ann["num_keypoints"] = n if rng.random() < 0.9 else int(rng.integers(0, 3))  # sometimes inconsistent
    return ann


def _prediction(rng: np.random.Generator, ann: dict[str, Any], k: int) -> dict[str, Any]:
    x, y, w, h = ann["bbox"]
    kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3).copy()
    noise = float(rng.choice([0.0, 0.0, 0.01, 0.05, 0.2, 1.0]))
    unl = kp[:, 2] == 0
    kp[unl, 0], kp[unl, 1] = x + w / 2, y + h / 2
    kp[:, :2] += rng.normal(0, noise, (k, 2)) * np.sqrt(w * h + 1)
    options = [rng.uniform(0, 1, k), np.zeros(k), -rng.uniform(0, 1, k), np.round(rng.uniform(0, 1, k))]
    kp[:, 2] = options[rng.choice(4, p=[0.7, 0.1, 0.1, 0.1])]  # all-zero / negative: xtcocotools drops them
    return {"keypoints": kp.ravel().tolist(), "score": float(rng.choice([0.25, 0.5, 0.5, 0.75, rng.uniform(0, 1)]))}


def random_case(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[float], bool]:
    """(gt, predictions, sigmas, use_area) for one seeded case."""
    rng = np.random.default_rng(seed)
    k = int(rng.choice([17, 14, 3, 1]))
    aic = rng.random() < 0.3
    use_area = not aic and rng.random() < 0.7
    cats = [1, 2] if rng.random() < 0.15 else [1]
    images = [{"id": int(3 * i + 1), "width": 640, "height": 480} for i in range(int(rng.integers(1, 7)))]
    first_id = int(rng.choice([1, 0, -2]))  # 0 / negative ids: the libraries' matched tests differ there
    anns, preds = [], []
    for img in images:
        for _ in range(int(rng.choice([0, 1, 2, 4, 8]))):
            ann = _gt_annotation(rng, k, aic=aic, width=640, height=480)
            ann.update(id=first_id + len(anns), image_id=img["id"], category_id=int(rng.choice(cats)))
            anns.append(ann)
            for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
                preds.append({"image_id": img["id"], "category_id": ann["category_id"], **_prediction(rng, ann, k)})
        for _ in range(int(rng.choice([0, 2, 25]))):  # spurious ones; 25 exceeds maxDets 20
            fake = _gt_annotation(rng, k, aic=True, width=640, height=480)
            fake["keypoints"] = (np.asarray(fake["keypoints"]) + 5).tolist()
            preds.append({"image_id": img["id"], "category_id": int(rng.choice(cats)), **_prediction(rng, fake, k)})
    order = rng.permutation(len(preds))
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c, "name": f"c{c}", "keypoints": [f"j{j}" for j in range(k)]} for c in cats],
    }
    sigmas = rng.uniform(0.01, 0.1, k).round(3).tolist()
    return gt, [preds[i] for i in order], sigmas, use_area


def assert_identical(fast: Any, ref: Any) -> None:
    assert dict(fast.metrics) == dict(ref.metrics)  # == on float64: bit-identical (no NaN can occur here)
    assert {k: dict(v) for k, v in fast.per_keypoint.items()} == {k: dict(v) for k, v in ref.per_keypoint.items()}
    assert (fast.num_predictions, fast.num_dropped_zero_score, fast.num_images) == (
        ref.num_predictions,
        ref.num_dropped_zero_score,
        ref.num_images,
    )


def _both(preds, gt, **kw):
    return evaluate_coco_keypoints_fast(preds, gt, **kw), evaluate_coco_keypoints(preds, gt, **kw)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("seed", range(60))
def test_random_cases_bit_identical(seed: int, library: str) -> None:
    gt, preds, sigmas, use_area = random_case(seed)
    fast, ref = _both(preds, gt, sigmas=sigmas, use_area=use_area, library=library, per_keypoint=True)
    assert_identical(fast, ref)


@pytest.mark.parametrize("library", LIBRARIES)
def test_synthetic_benchmark_set_small(library: str) -> None:
    from benchmarks.synthetic import COCO_SIGMAS, make_ground_truth, make_topdown_outputs
    from harness.topdown.postprocess import to_coco_results

    gt = make_ground_truth(size="small", seed=3)
    preds = to_coco_results(make_topdown_outputs(gt, seed=3), vis_thr=0.2, oks_nms_thr=0.9, sigmas=COCO_SIGMAS)
    for use_area in (True, False):
        fast, ref = _both(preds, gt, sigmas=COCO_SIGMAS, use_area=use_area, library=library, per_keypoint=True)
        assert_identical(fast, ref)


@pytest.mark.parametrize("name", ["aic", "coco", "macaque", "atrw"])
def test_sample_files(name, load_sample, make_predictions, coco_datasets) -> None:
    rel, sigmas, use_area = coco_datasets[name]
    _, gt = load_sample(rel)
    preds = make_predictions(gt, seed=7, all_zero_fraction=0.1)
    for library in LIBRARIES:
        fast, ref = _both(preds, gt, sigmas=sigmas, use_area=use_area, library=library, per_keypoint=True)
        assert_identical(fast, ref)


def test_no_predictions_and_no_gt() -> None:
    gt, preds, sigmas, use_area = random_case(1)
    for library in LIBRARIES:
        assert_identical(*_both([], gt, sigmas=sigmas, use_area=use_area, library=library))
        empty_gt = {**gt, "annotations": []}
        assert_identical(*_both(preds, empty_gt, sigmas=sigmas, use_area=use_area, library=library))


def test_pairwise_row_sums_match_one_dimensional_sums() -> None:
    """The OKS sum relies on np.sum over contiguous [P, n] rows equalling np.sum of each 1-D row."""
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        a = np.exp(-rng.random((500, n)) * rng.choice([0.01, 1.0, 30.0], (500, 1)))
        assert np.array_equal(np.sum(a, axis=-1), [np.sum(row.copy()) for row in a])


def test_self_check_passes_and_detects_a_difference(monkeypatch) -> None:
    gt, preds, sigmas, use_area = random_case(5)
    evaluate_coco_keypoints_fast(preds, gt, sigmas=sigmas, use_area=use_area, per_keypoint=False, self_check=True)
    real = fast_coco.summarize
    monkeypatch.setattr(fast_coco, "summarize", lambda p, r: {**real(p, r), "AP": real(p, r)["AP"] + 1e-16})
    with pytest.raises(FastPathMismatchError, match="AP"):
        evaluate_coco_keypoints_fast(preds, gt, sigmas=sigmas, use_area=use_area, per_keypoint=False, self_check=True)


def test_unsupported_ids_fall_back_to_the_library() -> None:
    gt, preds, sigmas, use_area = random_case(2)
    gt = copy.deepcopy(gt)
    for img in gt["images"]:
        img["id"] = f"img{img['id']}"
    for a in gt["annotations"]:
        a["image_id"] = f"img{a['image_id']}"
    preds = [{**p, "image_id": f"img{p['image_id']}"} for p in preds]
    assert_identical(*_both(preds, gt, sigmas=sigmas, use_area=use_area, library="xtcocotools"))


def test_invalid_predictions_raise_the_library_paths_errors() -> None:
    gt, preds, sigmas, use_area = random_case(3)
    bad = [*preds, {"image_id": 999999, "category_id": 1, "keypoints": preds[0]["keypoints"], "score": 0.5}]
    with pytest.raises(PredictionError, match="not in the annotations"):
        evaluate_coco_keypoints_fast(bad, gt, sigmas=sigmas, use_area=use_area)
    flagged = [{**preds[0], "keypoints": [True] * len(preds[0]["keypoints"])}]
    with pytest.raises(PredictionError):
        evaluate_coco_keypoints_fast(flagged, gt, sigmas=sigmas, use_area=use_area)
