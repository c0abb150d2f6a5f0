"""MPII in the registry: the two rows of MMPose 0.29's page exactly as printed (`zoo sync --check` agrees), the
`pckh` evaluator record and its reader's errors, the dataset's sources (PROTOCOLS.md §11)."""

from __future__ import annotations

import pytest

from tests.zoo.test_zoo_load import line_of, problems_of, variant
from zoo import load_registry
from zoo.cli import main
from zoo.evaluators.pckh import PckhEvaluator
from zoo.formats.pages import read_page

PAGE = ("topdown_heatmap", "mpii", "hrnet_mpii" + ".md")  # under tests/data/pages/family
TEMPLATE = "    evaluator: {kind: pckh, threshold: 0.5, head_size_factor: 0.6, gt_file: mpii_gt_val.mat}"


def test_sync_check_of_the_mpii_page_passes(family_pages_dir, capsys):
    assert main(["sync", "--check", str(family_pages_dir.joinpath(*PAGE))]) == 0
    out = capsys.readouterr().out
    assert "2 row(s) agree" in out


def test_rows_are_the_pages_numbers(family_pages_dir):
    reg = load_registry()
    page = read_page(family_pages_dir.joinpath(*PAGE))
    assert len(page.rows) == 2
    for row in page.rows:
        ours = reg.row(row.entry_id)
        assert dict(ours.metric_text) == row.metrics  # {"Mean": "0.900", "Mean@0.1": "0.334"} as printed
        assert reg.entries[row.entry_id].checkpoint.url == row.ckpt_url
        assert ours.source == "hrnet_mpii.md" and ours.dataset == "mpii" and ours.split == "val"
    assert {k for b in page.papers for k in [b.key]} == {"sun2019deep", "andriluka14cvpr"}


def test_protocol_and_schema():
    reg = load_registry()
    p = reg.row("hrnet_w48_mpii_256x256").protocol
    assert p.evaluator == PckhEvaluator(threshold=0.5, head_size_factor=0.6, gt_file="mpii_gt_val.mat")
    assert (p.flip, p.shift_heatmap, p.padding, p.vis_thr, p.oks_nms_thr) == (True, True, 1.25, None, None)
    schema = reg.schemas["mpii"]
    assert schema.num_keypoints == 16 and schema.sigmas is None
    assert schema.flip_index == (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10)
    ds = reg.datasets["mpii"]
    assert ds.paper == "andriluka14cvpr" and ds.splits["val"].ann_file == "mpii/annotations/mpii_val.json"
    annotations = ds.sources[0]
    assert "mpii/annotations/mpii_gt_val.mat" in annotations.targets  # where the evaluator looks for it
    assert annotations.urls == ("https://download.openmmlab.com/mmpose/datasets/mpii_annotations.tar",)


@pytest.mark.parametrize(
    ("new", "field", "words"),
    [
        (TEMPLATE.replace(", gt_file: mpii_gt_val.mat", ""), "gt_file", "missing required field 'gt_file'"),
        (TEMPLATE.replace("mpii_gt_val.mat", "../x.mat"), "gt_file", "is not a bare file name"),
        (TEMPLATE.replace("threshold: 0.5", "threshold: 0.5, sigmas: coco"), "sigmas", "unknown field 'sigmas'"),
        (
            TEMPLATE.replace("kind: pckh", "kind: pckhh"),
            "kind",
            "unknown evaluator kind 'pckhh' (did you mean 'pckh'?)",
        ),
    ],
)
def test_evaluator_errors_name_the_field(tmp_path, new, field, words):
    """A template's problem is named at each row that uses it (both MPII rows), with the template's line."""
    path = variant(tmp_path, (TEMPLATE, new))
    where = f"].results[0].protocol.evaluator.{field} (line {line_of(path, new.strip())}): "
    hits = [p for p in problems_of(path) if where in p and words in p and "; expected " in p]
    assert len(hits) == 2, problems_of(path)


def test_metrics_of_another_evaluator_are_refused(tmp_path):
    path = variant(tmp_path, ("metrics: {Mean: 0.900, Mean@0.1: 0.334}", "metrics: {AP: 0.900}"))
    where = f"].results[0].metrics (line {line_of(path, 'metrics: {AP: 0.900}')}): AP cannot come from evaluator 'pckh'"
    assert [p for p in problems_of(path) if where in p], problems_of(path)
