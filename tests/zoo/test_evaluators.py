"""Evaluator kinds as plug-ins (zoo.evaluators): one table of records, an unknown kind refused at registry load,
each kind's own mmpose-0.29 form, and the plain-data form of the two first kinds unchanged (run identities of the
committed history, exports)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.protocols import run_protocol
from tests.zoo.test_zoo_load import assert_problem, line_of, problems_of, variant
from zoo import load_registry
from zoo.errors import UnknownEntryError
from zoo.evaluators import EVALUATORS, HIGHER_IS_BETTER, METRIC_NAMES, PAGE_COLUMNS, make_evaluator
from zoo.evaluators.base import EvaluatorRecord

#: The plain data of registry version 1's single Evaluator record, as committed result.json files hold it.
V1_FIELDS = ["kind", "library", "sigmas", "use_area", "pck_threshold", "normalize"]


def test_every_kind_is_its_own_record_and_declares_its_vocabulary():
    for kind, record in EVALUATORS.items():
        assert issubclass(record, EvaluatorRecord)
        assert record.__dataclass_fields__["kind"].default == kind
        assert record.metrics and set(record.page_columns.values()) <= set(record.metrics)
        for method in ("mmpose029", "words", "summary", "details"):
            assert getattr(record, method) is not getattr(EvaluatorRecord, method), (kind, method)
    assert (
        *("AP", "AP50", "AP75", "AR", "AR50", "PCK@0.3", "NME"),
        *("AP(E)", "AP(M)", "AP(H)", "Mean", "Mean@0.1"),
    ) == METRIC_NAMES
    assert HIGHER_IS_BETTER["NME"] is False and HIGHER_IS_BETTER["AP"] is True and HIGHER_IS_BETTER["Mean"] is True
    assert PAGE_COLUMNS["AP50"] == "AP50" and PAGE_COLUMNS["AP (E)"] == "AP(E)" and PAGE_COLUMNS["Mean"] == "Mean"


def test_unknown_kind_is_refused_at_load_naming_the_row_and_the_known_kinds(tmp_path):
    path = variant(tmp_path, ("protocol: {base: td-aic-gt}", "protocol: {base: td-aic-gt, evaluator: {kind: pckhh}}"))
    problems = problems_of(path)
    assert_problem(problems, "entries[0].results[0].protocol.evaluator.kind", line_of(path, "kind: pckhh"), "pckhh")
    assert any("coco_keypoints" in p and "pck_nme" in p and "'pckh'" in p for p in problems), problems
    with pytest.raises(UnknownEntryError, match="known kinds: coco_keypoints, pck_nme, crowdpose_keypoints, pckh"):
        make_evaluator("pckhh")


def test_a_row_scored_by_another_kind_than_its_datasets_is_refused(tmp_path):
    path = variant(tmp_path, ("    evaluator: coco_keypoints\n", "    evaluator: pck_nme\n"))
    problems = problems_of(path)
    assert any("entries[0].results[0].protocol" in p and "evaluator of record" in p for p in problems), problems


def test_plain_data_of_the_first_kinds_is_unchanged():
    coco = make_evaluator("coco_keypoints", library="xtcocotools", sigmas="coco")
    pck = make_evaluator("pck_nme", pck_threshold=0.3, normalize="nose_eye")
    assert list(dataclasses.asdict(coco)) == V1_FIELDS == list(dataclasses.asdict(pck))
    assert dataclasses.asdict(pck)["use_area"] is True and dataclasses.asdict(coco)["normalize"] is None


def test_plain_data_of_pckh_and_crowdpose_is_what_their_first_records_wrote():
    """The records of kinds pckh and crowdpose_keypoints before they became plug-ins (zoo.registry.schema.PckhEvaluator,
    and CrowdPoseEvaluator, a subclass of the version 1 record) wrote these fields, in this order."""
    crowd = make_evaluator("crowdpose_keypoints", sigmas="crowdpose")
    assert dataclasses.asdict(crowd) == {
        "kind": "crowdpose_keypoints", "library": "xtcocotools", "sigmas": "crowdpose", "use_area": False,
        "pck_threshold": None, "normalize": None,
    }  # fmt: skip
    assert list(dataclasses.asdict(crowd)) == V1_FIELDS
    pckh = make_evaluator("pckh", threshold=0.5, head_size_factor=0.6, gt_file="mpii_gt_val.mat")
    assert dataclasses.asdict(pckh) == {
        "kind": "pckh", "threshold": 0.5, "head_size_factor": 0.6, "gt_file": "mpii_gt_val.mat"
    }  # fmt: skip
    assert list(dataclasses.asdict(pckh)) == ["kind", "threshold", "head_size_factor", "gt_file"]


def test_the_committed_demo_run_has_the_identity_protocol_of_today(repo_root: Path):
    """The history's demo runs were keyed by the record of registry version 1: today's record gives the same data,
    so a new run of the demo row still confirms them (zoo.results.history.confirms)."""
    row = load_registry().row("hrnet_w8_demo_128x96/gt-bbox")
    latest = sorted((repo_root / "results" / "history").glob("*demo*.json"))[-1]
    recorded = json.loads(latest.read_text())["identity"]["protocol_resolved"]
    today = json.loads(json.dumps(dataclasses.asdict(row.protocol)))
    assert today["evaluator"] == recorded["evaluator"]
    # The top-down decoding variants (decoder, affine, kernel, precision) came later, at their plain values.
    assert {k: v for k, v in today.items() if k in recorded} == recorded


def test_each_kind_declares_its_own_mmpose029_form():
    registry = load_registry()
    horse = run_protocol(registry.row("hrnet_w32_horse10_256x256_split1"), "mmpose-0.29").evaluator
    assert (horse.kind, horse.normalize, horse.pck_threshold) == ("pck_nme", "bbox_longer_side", 0.2)
    coco = run_protocol(registry.row("higher_hrnet32_coco_512x512/single-scale"), "mmpose-0.29").evaluator
    assert (coco.kind, coco.library, coco.sigmas) == ("coco_keypoints", "xtcocotools", "coco")
    for row_id in ("higher_hrnet32_crowdpose_512x512/single-scale", "hrnet_w32_mpii_256x256"):
        row = registry.row(row_id)
        assert run_protocol(row, "mmpose-0.29").evaluator == row.protocol.evaluator  # the same in both eras


def test_a_new_kind_is_never_turned_into_another_one():
    """The old dispatch made every non-COCO evaluator Horse-10's pck_nme under mmpose-0.29."""

    @dataclasses.dataclass(frozen=True)
    class Made(EvaluatorRecord):
        kind: str = dataclasses.field(default="made_up", init=False)

        def mmpose029(self):
            return self

    row = load_registry().row("hrnet_w32_horse10_256x256_split1")
    row = dataclasses.replace(row, protocol=dataclasses.replace(row.protocol, evaluator=Made()))
    assert run_protocol(row, "mmpose-0.29").evaluator == Made()
