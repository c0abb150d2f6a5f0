"""`zoo import` on pages beyond the seeds: tables it cannot read are named and skipped (the rest of the page is
still read), no protocol template is guessed for a dataset it did not recognise, dataset names match as whole
names, and "evaluated on X" says the dataset is X. The COFW, COCO-WholeBody-Face and OCHuman tables are small
snippets in MMPose's page format; MPII and CrowdPose are MMPose 0.29's own pages (tests/data/pages/family/)."""

from __future__ import annotations

import json

from zoo import load_registry
from zoo.cli import main
from zoo.formats.importer import imply, protocol_templates
from zoo.formats.pages import parse_page

CKPT = "https://download.openmmlab.com/mmpose/x/{}-0123abcd_20210101.pth"


def _page(caption: str, metrics: dict[str, str], stem: str) -> str:
    cols = " | ".join(metrics)
    cells = " | ".join(metrics.values())
    rule = "|".join(["--"] * (len(metrics) + 4))
    return (
        f"{caption}\n\n| Arch | Input Size | {cols} | ckpt | log |\n|{rule}|\n"
        f"| [{stem}](/c/{stem}.py) | 256x256 | {cells} | [ckpt]({CKPT.format(stem)}) | [log](https://h/l.json) |\n"
    )


def _implied(text: str):
    registry = load_registry()
    return imply(parse_page(text, name="p.md"), registry, protocol_templates(registry))


def test_cofw_gets_no_dataset_and_no_template():
    [row] = _implied(_page("Results on COFW test with ground-truth bounding boxes", {"NME": "3.48"}, "hrnetv2_cofw"))
    assert row.dataset.value is None and row.template.value is None
    assert row.protocol is None and "no dataset recognised" in row.template.reason


def test_coco_wholebody_face_is_not_coco():
    text = _page("Results on COCO-WholeBody-Face val with GT-bbox", {"NME": "0.0569"}, "hrnetv2_w18_wbface")
    [row] = _implied(text)
    assert row.dataset.value is None and row.template.value is None


def test_evaluated_on_ochuman_is_ochuman_not_coco():
    caption = (
        "Results on OCHuman test dataset with ground-truth bounding boxes. The models are trained on COCO train "
        "dataset, and evaluated on OCHuman dataset."
    )
    metrics = {"AP": "0.591", "AP50": "0.748", "AP75": "0.641", "AR": "0.631", "AR50": "0.775"}
    [row] = _implied(_page(caption, metrics, "hrnet_w32_ochuman_256x192"))
    assert row.dataset.value is None and "OCHuman" in row.dataset.reason and row.template.value is None
    # the same words evaluated on a dataset of zoo.yaml name it
    [coco] = _implied(_page("Trained on AIC, evaluated on COCO val2017 with ground-truth boxes", metrics, "x_coco"))
    assert coco.dataset.value == "coco"


def test_unreadable_tables_are_named_and_the_others_imported(capsys, tmp_path):
    """A hand-pose table (PCK, AUC, EPE) has no evaluator kind: the page is skipped, naming the columns; a page with
    a readable table beside it keeps that table."""
    hand = tmp_path / "onehand.md"
    unknown = {"PCK": "0.987", "AUC": "0.873", "EPE": "2.34"}
    hand.write_text(_page("Results on OneHand10K val set", unknown, "hrnetv2_w18_onehand10k"))
    assert main(["import", str(hand)]) == 2
    err = capsys.readouterr().err
    assert "skipped: no evaluator kind declares column(s) ['PCK', 'AUC', 'EPE']" in err and "Traceback" not in err
    mixed = tmp_path / "mixed.md"
    ok = {"AP": "0.591", "AP50": "0.748", "AP75": "0.641", "AR": "0.631", "AR50": "0.775"}
    mixed.write_text(hand.read_text() + "\n" + _page("Results on COCO val2017 with GT boxes", ok, "m_coco"))
    assert main(["import", "--json", str(mixed)]) == 0
    captured = capsys.readouterr()
    [doc] = json.loads(captured.out)
    assert [r["entry_id"] for r in doc["rows"]] == ["m_coco"]
    assert [t["columns"] for t in doc["skipped_tables"]] == [["PCK", "AUC", "EPE"]]
    assert "note: mixed.md: table at line" in captured.err


def test_mpii_and_crowdpose_pages_are_read_whole(capsys, family_pages_dir):
    """The PCKh (`Mean`, `Mean@0.1`) and crowd-bin (`AP (E)`) columns are the pckh and crowdpose_keypoints kinds':
    both pages import with no table skipped, each row on its dataset's template."""
    pages = {
        ("topdown_heatmap", "mpii", "hrnet_mpii.md"): ("mpii", "td-mpii", {"Mean", "Mean@0.1"}),
        ("associative_embedding", "crowdpose", "higherhrnet_crowdpose.md"): (
            "crowdpose", "bu-crowdpose-higherhrnet", {"AP", "AP50", "AP75", "AP(E)", "AP(M)", "AP(H)"}
        ),
    }  # fmt: skip
    for parts, (dataset, template, metrics) in pages.items():
        page = family_pages_dir.joinpath(*parts)
        assert main(["import", "--json", str(page)]) == 0
        [doc] = json.loads(capsys.readouterr().out)
        assert doc["skipped_tables"] == [] and len(doc["rows"]) == 2
        for row in doc["rows"]:
            assert set(row["metrics"]) == metrics, row
        implied = imply(
            parse_page(page.read_text(), name=parts[-1]), load_registry(), protocol_templates(load_registry())
        )
        assert {(r.dataset.value, r.template.value) for r in implied} == {(dataset, template)}
