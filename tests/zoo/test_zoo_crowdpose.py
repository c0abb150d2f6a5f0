"""CrowdPose in the registry: the rows of MMPose 0.29's own page agree with zoo.yaml (`zoo sync --check`), the
evaluator record fixes what `keypoints_crowd` must be called with, and the dataset is known to `data list`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.zoo.test_zoo_load import problems_of, variant
from zoo import load_registry
from zoo.cli import main
from zoo.evaluators.crowdpose_keypoints import CrowdPoseEvaluator

#: MMPose 0.29's page, under tests/data/pages/family/.
PAGE = Path("associative_embedding", "crowdpose", "higherhrnet_crowdpose.md")
TEMPLATE = "evaluator: {kind: crowdpose_keypoints, sigmas: crowdpose}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sync_check_passes_on_the_crowdpose_page(capsys, family_pages_dir):
    code, out, err = run(capsys, "sync", "--check", str(family_pages_dir / PAGE))
    assert code == 0, out + err
    assert "1 page(s), 2 row(s) agree" in out


def test_sync_check_names_a_changed_crowd_bin(capsys, family_pages_dir, tmp_path):
    text = (family_pages_dir / PAGE).read_text(encoding="utf-8")
    edited = tmp_path / PAGE.name  # same file name: the rows cite their page by it
    edited.write_text(text.replace("| 0.728  | 0.660  | 0.577  |", "| 0.728  | 0.660  | 0.578  |", 1), encoding="utf-8")
    code, out, err = run(capsys, "sync", "--check", str(edited))
    assert code == 1
    assert "higher_hrnet32_crowdpose_512x512/single-scale AP(H): page 0.578, zoo.yaml 0.577" in out + err


def test_rows_carry_the_page_numbers_and_the_crowd_evaluator():
    registry = load_registry()
    single = registry.row("higher_hrnet32_crowdpose_512x512/single-scale")
    multi = registry.row("higher_hrnet32_crowdpose_512x512/multi-scale")
    assert dict(single.metric_text) == {"AP": "0.655", "AP50": "0.859", "AP75": "0.705", "AP(E)": "0.728",
                                        "AP(M)": "0.660", "AP(H)": "0.577"}  # fmt: skip
    assert dict(multi.metric_text)["AP(H)"] == "0.566" and multi.protocol.scales == (2.0, 1.0)
    ev = single.protocol.evaluator
    assert ev == CrowdPoseEvaluator(sigmas="crowdpose")
    assert (ev.kind, ev.library, ev.use_area) == ("crowdpose_keypoints", "xtcocotools", False)
    assert single.protocol.era.stage_aggregation == "upsample_to_last"
    assert registry.datasets["crowdpose"].splits["test"].ann_file == "crowdpose/annotations/mmpose_crowdpose_test.json"


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("library: pycocotools", "got the string 'pycocotools'; expected one of xtcocotools"),
        ("use_area: true", "got the boolean 'true'; expected one of False"),
        ("pck_threshold: 0.2", "unknown field 'pck_threshold'"),
    ],
)
def test_the_crowd_evaluator_refuses_other_semantics(tmp_path, field, words):
    path = variant(tmp_path, (TEMPLATE, TEMPLATE.replace("sigmas: crowdpose", f"sigmas: crowdpose, {field}")))
    problems = problems_of(path)
    assert any(words in p for p in problems), problems


def test_the_crowd_evaluator_needs_sigmas(tmp_path):
    problems = problems_of(variant(tmp_path, (TEMPLATE, "evaluator: {kind: crowdpose_keypoints}")))
    assert any("evaluator.sigmas" in p and "missing required field 'sigmas'" in p for p in problems), problems


def test_crowd_bins_only_come_from_the_crowd_evaluator(tmp_path):
    # A COCO-style row may not document AP(E): xtcocotools' plain keypoints evaluation has no crowd bins.
    old = "metrics: {AP: 0.677, AP50: 0.870, AP75: 0.738, AR: 0.723, AR50: 0.890}"
    path = variant(tmp_path, (old, old.replace("AR50: 0.890}", "AR50: 0.890, AP(E): 0.5}")))
    problems = problems_of(path)
    assert any("AP(E) cannot come from evaluator 'coco_keypoints'" in p for p in problems), problems
