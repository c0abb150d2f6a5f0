"""`python -m harness score` and `harness.metrics.evaluators.score` on predictions files, with a registry built in
the test."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

import harness.commands.score as score_cmd
from harness.cli import main
from harness.metrics import BBOX_NORMALIZER
from harness.metrics.coco import evaluate_coco_keypoints
from harness.metrics.evaluators import score
from harness.metrics.pck import horse10_pck_nme
from tests.helpers.protocols import bottomup_protocol, topdown_protocol
from zoo.evaluators import make_evaluator
from zoo.registry.schema import (
    Architecture,
    Checkpoint,
    Dataset,
    DataSplit,
    DocumentedRow,
    Entry,
    Era,
    KeypointSchema,
    Registry,
)

AIC_SIGMAS = (0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642, 0.03686941,
              0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173)  # fmt: skip


def _schema(name, k, sigmas=None):
    return KeypointSchema(
        name=name, keypoints=tuple(f"{name}_{j}" for j in range(k)), flip_pairs=(), sigmas=sigmas,
        grouping_order=tuple(range(k)),
    )  # fmt: skip


def _result(entry_id, name, dataset, evaluator, paradigm="topdown"):
    era = Era(name="model-zoo-2021", gt_box_shrink=True, grouping_max_groups=30 if paradigm == "bottomup" else None)
    make = topdown_protocol if paradigm == "topdown" else bottomup_protocol
    protocol = make(flip=True, scales=(1.0,), evaluator=evaluator, era=era)
    empty = MappingProxyType({})
    return DocumentedRow(entry_id=entry_id, name=name, dataset=dataset, split="val", metrics=empty, metric_text=empty,
                  tolerances=empty, source="test", protocol=protocol)  # fmt: skip


def _entry(entry_id, dataset, k, results):
    arch = Architecture(backbone="hrnet", width=32, head="heatmap", input_size=(256, 192), heatmap_sizes=((64, 48),),
                        num_keypoints=k, keypoint_schema=dataset)  # fmt: skip
    ckpt = Checkpoint(url=f"https://example.invalid/{entry_id}-00000000_20210101.pth", sha256_prefix="00000000")
    return Entry(id=entry_id, name=entry_id, architecture=arch, checkpoint=ckpt, config="c.py", papers=(),
                 dataset=dataset, results=tuple(results))  # fmt: skip


@pytest.fixture()
def registry(monkeypatch) -> Registry:
    aic_eval = make_evaluator(kind="coco_keypoints", library="xtcocotools", sigmas="aic", use_area=False)
    horse_eval = make_evaluator(kind="pck_nme", pck_threshold=0.3, normalize="nose_eye")
    entries = {
        "aic_td": _entry("aic_td", "aic", 14, [_result("aic_td", "gt-bbox", "aic", aic_eval)]),
        "aic_ae": _entry("aic_ae", "aic", 14, [
            _result("aic_ae", "single-scale", "aic", aic_eval, "bottomup"),
            _result("aic_ae", "multi-scale", "aic", aic_eval, "bottomup"),
        ]),
        "horse": _entry("horse", "horse10", 22, [_result("horse", "split1", "horse10", horse_eval)]),
    }  # fmt: skip
    datasets = {
        key: Dataset(key=key, name=key, paper="p", keypoint_schema=key, task="Body 2D Keypoint", annotations=fmt,
                     evaluator=kind, splits=MappingProxyType({"val": DataSplit(ann_file="a.json", img_dir="i/")}))
        for key, fmt, kind in (("aic", "coco-json", "coco_keypoints"), ("horse10", "horse10-json", "pck_nme"))
    }  # fmt: skip
    reg = Registry(
        entries=MappingProxyType(entries),
        datasets=MappingProxyType(datasets),
        schemas=MappingProxyType({"aic": _schema("aic", 14, AIC_SIGMAS), "horse10": _schema("horse10", 22)}),
        papers=MappingProxyType({}),
    )
    monkeypatch.setattr(score_cmd, "_registry", lambda: reg)
    return reg


def _run(argv, capsys):
    rc = main(["score", *argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture()
def aic_files(tmp_path, load_sample, make_predictions):
    path, gt = load_sample("aic/test_aic.json")
    preds = make_predictions(gt, seed=3)
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps(preds))
    return path, pred_file, preds


def test_score_cli_aic(registry, aic_files, capsys):
    ann, pred_file, preds = aic_files
    rc, out, err = _run(["aic_td", "--predictions", str(pred_file), "--ann-file", str(ann)], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    expected = evaluate_coco_keypoints(preds, ann, sigmas=AIC_SIGMAS, use_area=False)
    assert list(doc["metrics"]) == ["AP", "AP50", "AP75", "AR", "AR50"]
    assert doc["metrics"] == {k: expected.metrics[k] for k in doc["metrics"]}
    assert doc["row"] == "aic_td/gt-bbox" and doc["protocol"] == "published"
    assert doc["evaluator"]["use_area"] is False and doc["evaluator"]["library"] == "xtcocotools"
    assert list(doc["per_keypoint"]) == [f"aic_{j}" for j in range(14)]
    assert set(doc["extra_metrics"]) == {"APm", "APl", "AR75", "ARm", "ARl"}


def test_score_cli_row_selection(registry, aic_files, capsys):
    ann, pred_file, _ = aic_files
    common = ["--predictions", str(pred_file), "--ann-file", str(ann), "--no-per-keypoint"]
    rc, _, err = _run(["aic_ae", *common], capsys)
    assert rc == 2 and "aic_ae/single-scale, aic_ae/multi-scale" in err and "--row" in err
    rc, out, _ = _run(["aic_ae", "--row", "multi-scale", *common], capsys)
    assert rc == 0 and json.loads(out)["row"] == "aic_ae/multi-scale"
    rc, out, _ = _run(["aic_ae/single-scale", *common], capsys)
    assert rc == 0 and json.loads(out)["per_keypoint"] == {}


def test_score_cli_reports_bad_predictions(registry, aic_files, tmp_path, capsys):
    ann, _, preds = aic_files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**preds[0], "keypoints": preds[0]["keypoints"] + [1.0] * 9}, *preds[1:]]))  # 17 joints
    rc, out, err = _run(["aic_td", "--predictions", str(bad), "--ann-file", str(ann)], capsys)
    assert rc == 2 and out == ""
    assert "K = 14" in err
    rc, _, err = _run(["aic_td", "--predictions", str(tmp_path / "missing.json"), "--ann-file", str(ann)], capsys)
    assert rc == 2 and "does not exist" in err


def test_score_cli_horse10_both_protocols(registry, load_sample, tmp_path, capsys):
    ann, gt = load_sample("horse10/test_horse10.json")
    preds = []
    for i, a in enumerate(gt["annotations"]):
        kp = list(a["keypoints"])
        kp[6] += 3.0 * (i + 1)  # move joint 2 a little more in each instance
        preds.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp, "score": 1.0, "bbox_id": i})
    pred_file = tmp_path / "horse.json"
    pred_file.write_text(json.dumps(preds))
    rc, out, _ = _run(["horse", "--predictions", str(pred_file), "--ann-file", str(ann)], capsys)
    assert rc == 0
    doc = json.loads(out)
    assert doc["metrics"] == dict(horse10_pck_nme(preds, gt).metrics)
    assert list(doc["metrics"]) == ["PCK@0.3", "NME"]
    rc, out, _ = _run(["horse", "--protocol", "mmpose-0.29", "--predictions", str(pred_file), "--ann-file", str(ann)],
                      capsys)  # fmt: skip
    doc = json.loads(out)
    assert rc == 0 and list(doc["metrics"]) == ["PCK"] and doc["evaluator"]["normalize"] == BBOX_NORMALIZER


def test_run_protocol(registry):
    row = registry.row("aic_ae/single-scale")
    assert score_cmd.run_protocol(row, "published") is row.protocol
    p = score_cmd.run_protocol(row, "mmpose-0.29")
    assert (p.era.gt_box_shrink, p.era.stage_aggregation, p.era.grouping_max_groups) == (False, "direct", None)
    assert p.evaluator.library == "xtcocotools" and p.evaluator.use_area is False
    assert (p.flip, p.scales) == (row.protocol.flip, row.protocol.scales)
    horse = score_cmd.run_protocol(registry.row("horse"), "mmpose-0.29")
    assert (horse.evaluator.pck_threshold, horse.evaluator.normalize) == (0.2, BBOX_NORMALIZER)


def test_score_dispatch_rejects_mismatched_sigmas(load_sample):
    ann, _ = load_sample("aic/test_aic.json")
    ev = make_evaluator(kind="coco_keypoints", library="pycocotools", sigmas="coco", use_area=False)
    with pytest.raises(ValueError, match="sigmas of schema 'coco'"):
        score([], evaluator=ev, gt=ann, schema=_schema("aic", 14, AIC_SIGMAS))
    out = score([], evaluator=ev, gt=ann, schema=_schema("aic", 14), sigmas=AIC_SIGMAS, per_keypoint=False)
    assert out["metrics"]["AP"] == 0.0 and out["evaluator"]["library"] == "pycocotools"
