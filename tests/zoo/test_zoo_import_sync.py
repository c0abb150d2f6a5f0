"""`python -m zoo import` and `python -m zoo sync --check` on the real seed pages (tests/data/pages/seeds/) and on
edited copies of them: what a maintainer runs when the upstream model-zoo pages change; hostile copies (issue 22, case
8) whose text must never become YAML structure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from zoo import load_registry
from zoo.cli import main
from zoo.formats.importer import imply, protocol_agreement, protocol_templates, registry_row
from zoo.formats.pages import bib_fields, read_page

HIGHER = "004_9bc41c4401837861.txt"  # HigherHRNet COCO, single- and multi-scale tables
ANIMAL = "003_8f30fea131578a9d.txt"  # Horse-10 (Set column), MacaquePose, ATRW


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def seeds(seeds_dir: Path) -> list[Path]:
    pages = sorted(seeds_dir.glob("*.txt"))
    assert len(pages) == 5, f"expected the five seed pages in {seeds_dir}"
    return pages


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_import_yields_exactly_the_registry_rows(seeds, registry):
    templates = protocol_templates(registry)
    implied = [
        (page, item) for path in seeds for page in [read_page(path)] for item in imply(page, registry, templates)
    ]
    assert len(implied) == 22
    assert len({item.entry_id for _, item in implied}) == 18
    pages = {path.name for path in seeds}  # rows from other pages (MMPose 0.29's, tests/data/pages/family) aside
    seeded = {r.row_id for e in registry.entries.values() for r in e.results if r.source in pages}
    assert {item.row_id for _, item in implied} == seeded  # every documented row, each once
    for page, item in implied:
        entry, known = registry.entries[item.entry_id], registry_row(registry, item)
        assert known is not None, item.row_id
        assert dict(item.row.metrics) == dict(known.metric_text), item.row_id  # text as printed: "0.870" == "0.870"
        assert item.row.ckpt_url == entry.checkpoint.url and item.row.log_url == entry.checkpoint.log_url
        assert item.row.sha256_prefix == entry.checkpoint.sha256_prefix
        assert item.row.input_size == entry.architecture.input_size
        assert (item.dataset.value, item.split.value) == (known.dataset, known.split)
        assert protocol_agreement(item, registry) == "", item.row_id  # the guessed template resolves to zoo.yaml's
        assert known.source == page.name
        for bib in page.papers:
            assert bib.key in entry.papers, (item.row_id, bib.key)
            assert bib_fields(registry.papers[bib.key]) == bib.fields, bib.key


def test_multi_scale_guess_carries_the_caption_factors(seeds_dir, registry):
    page = read_page(seeds_dir / HIGHER)
    rows = {i.row_id: i for i in imply(page, registry, protocol_templates(registry))}
    multi = rows["higher_hrnet32_coco_512x512/multi-scale"]
    assert multi.scales == (2.0, 1.0, 0.5) and multi.template.value == "bu-coco-higherhrnet"
    assert rows["higher_hrnet32_coco_512x512/single-scale"].scales is None


def test_import_cli_marks_every_guess_and_keeps_printed_text(capsys, seeds_dir):
    code, out, err = run(capsys, "import", str(seeds_dir / HIGHER), str(seeds_dir / ANIMAL))
    assert code == 0, err
    for key in ("name", "dataset", "split", "protocol", "paradigm"):
        lines = [ln for ln in out.splitlines() if ln.strip().startswith(f"{key}:") or ln.strip() == f"- {key}:"]
        lines += [ln for ln in out.splitlines() if ln.strip().startswith(f"- {key}:")]
        assert lines, key
        assert all("# guess:" in ln for ln in lines), [ln for ln in lines if "# guess:" not in ln]
    assert "AP50: 0.870" in out  # exactly as printed, not 0.87
    assert "agrees with zoo.yaml" in out and "FLAGGED" not in out
    entries = yaml.safe_load(out)  # pages' headers are comments: the output is one YAML list of entries
    assert len(entries) == 3 + 10  # HigherHRNet (3 checkpoints) + animal page (10)
    horse = next(e for e in entries if e["id"] == "hrnet_w48_horse10_256x256_split2")
    assert horse["results"][0]["metrics"] == {"PCK@0.3": 0.969, "NME": 0.101}
    assert horse["papers"] == ["sun2019deep", "mathis2021pretraining"]  # dataset paper: a guess, commented as such


def test_import_json_has_each_guess_with_its_reason(capsys, seeds_dir):
    code, out, _ = run(capsys, "import", "--json", str(seeds_dir / HIGHER))
    assert code == 0
    (page,) = json.loads(out)
    assert page["page"] == HIGHER and len(page["rows"]) == 6
    for row in page["rows"]:
        for key in ("dataset", "split", "name", "protocol", "paradigm"):
            assert row[key]["guess"] and row[key]["value"] is not None
        assert row["protocol"]["zoo_yaml"] == "agrees"


def test_sync_check_passes_on_the_seeds(capsys, seeds):
    code, out, err = run(capsys, "sync", "--check", *map(str, seeds))
    assert code == 0, err
    assert "5 page(s), 22 row(s) agree" in out


def _edited(seeds_dir: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (seeds_dir / name).read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    copy = tmp_path / name  # same file name: zoo.yaml rows cite their page by it
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            HIGHER,
            "| 0.677 | 0.870 |",
            "| 0.677 | 0.871 |",
            "higher_hrnet32_coco_512x512/single-scale AP50: page 0.871, zoo.yaml 0.870",
        ),
        (
            HIGHER,
            "higher_hrnet32_coco_640x640-a22fe938",
            "higher_hrnet32_coco_640x640-a22fe939",
            "checkpoint URL (sha256 prefix: page a22fe939, zoo.yaml a22fe938)",
        ),
        (
            ANIMAL,
            "hrnet_w48_atrw_256x256_20210414.log.json",
            "hrnet_w48_atrw_256x256_20210415.log.json",
            "hrnet_w48_atrw_256x256 log URL",
        ),
        (ANIMAL, "year={2019}", "year={2018}", "bibtex sun2019deep.year: page '2018', papers.bib '2019'"),
        (HIGHER, "| 640x640 | 0.706 |", "| 640x512 | 0.706 |", "input size (HxW): page 640x512, zoo.yaml 640x640"),
    ],
    ids=["number", "url-hash", "log-url", "bibtex-field", "input-size"],
)
def test_sync_check_names_the_difference(capsys, seeds_dir, tmp_path, name, old, new, expected):
    page = _edited(seeds_dir, tmp_path, name, old, new)
    code, _, err = run(capsys, "sync", "--check", str(page))
    assert code == 1
    assert expected in err, err
    assert "1 difference(s)" in err, err  # exactly the edited fact, nothing else


def test_sync_check_names_missing_and_extra_rows(capsys, seeds_dir, tmp_path):
    text = (seeds_dir / HIGHER).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    dropped = next(i for i, ln in enumerate(lines) if "higher_hrnet48_coco_512x512" in ln and "0.716" in ln)
    new_row = lines[dropped].replace("higher_hrnet48_coco_512x512", "higher_hrnet48_coco_640x640")
    copy = tmp_path / HIGHER
    copy.write_text("".join([*lines[:dropped], new_row, *lines[dropped + 1 :]]), encoding="utf-8")
    code, _, err = run(capsys, "sync", "--check", str(copy))
    assert code == 1
    assert "missing row: checkpoint higher_hrnet48_coco_640x640" in err
    assert "extra row: zoo.yaml's higher_hrnet48_coco_512x512/multi-scale" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "| Arch | Input Size | AP | ckpt |\n|--|--|--|--|\n| [a](x) | 256x192 | 0.5 | no link |\n",
            "expected exactly one [ckpt](URL)",
        ),
        (
            "| Arch | Input Size | mAP | ckpt |\n|--|--|--|--|\n| [a](x) | 256 | 0.5 | [c](u) |\n",
            "no evaluator kind declares column(s) ['mAP']",
        ),
        (
            "| Arch | Input Size | AP | ckpt |\n|--|--|--|--|\n| [a](x) | 256 | 0.5 | [ckpt](https://h/a.pth) |\n",
            "expected a file named",
        ),
        ("```bibtex\n@article{broken,\n title={x\n```\n", "bibtex block does not parse"),
    ],
    ids=["no-link", "unknown-column", "bad-checkpoint-name", "bad-bibtex"],
)
def test_malformed_page_is_one_clear_error(capsys, tmp_path, text, expected):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    for verb in (["import"], ["sync", "--check"]):
        code, out, err = run(capsys, *verb, str(page))
        assert code == 2 and out == ""
        assert err.startswith((f"error: {page}:", "error: page.md:")), err
        assert expected in err and "Traceback" not in err


def test_sync_check_refuses_to_run_without_check(seeds_dir):
    with pytest.raises(SystemExit) as exc:
        main(["sync", str(seeds_dir / HIGHER)])
    assert exc.value.code == 2


def test_seed_copy_keeps_its_name(seeds_dir, tmp_path):
    # the extra-row check matches zoo.yaml's `source: {seed: NAME}`: a renamed copy is a different page
    shutil.copy(seeds_dir / HIGHER, tmp_path / "renamed.md")
    assert main(["sync", "--check", str(tmp_path / "renamed.md")]) == 0


# --- hostile pages (issue 22, case 8): page text never becomes YAML structure ----------------------------------------

ROW_30 = "| 0.677 | 0.870 |"  # HIGHER line 30: higher_hrnet32_coco_512x512, single-scale, AP and AP50


def _read_back(out: str) -> list[dict]:
    """`zoo import`'s output read by the registry's own parser (zoo/registry/yamltree.py), metrics as their source
    text."""
    from zoo.registry.yamltree import Problems, parse

    problems = Problems()
    root = parse(out, problems)
    assert not problems.items, problems.items
    entries = []
    for e in root.value:
        fields = e.value
        rows = [
            {
                "name": r.value["name"].value,
                "dataset": r.value["dataset"].value,
                "split": r.value["split"].value,
                "metrics": {k: v.text for k, v in r.value["metrics"].value.items()},
                "seed": r.value["source"].value["seed"].value,
            }
            for r in fields["results"].value
        ]
        entries.append(
            {
                "keys": set(fields),
                "id": fields["id"].value,
                "url": fields["checkpoint"].value["url"].value,
                "papers": [p.value for p in fields["papers"].value],
                "rows": rows,
            }
        )
    return entries


def test_import_output_reads_back_as_the_page_rows(capsys, seeds, registry):
    """Round trip: every seed page's import, read by the registry's parser, gives exactly the page's rows."""
    templates = protocol_templates(registry)
    for path in seeds:
        code, out, err = run(capsys, "import", str(path))
        assert code == 0, err
        page = read_page(path)
        implied = imply(page, registry, templates)
        back = {(e["id"], r["name"]): (e, r) for e in _read_back(out) for r in e["rows"]}
        assert len(back) == len(implied)
        for item in implied:
            entry, row = back[(item.entry_id, item.name.value)]
            assert row["metrics"] == dict(item.row.metrics)  # the text as printed: "0.870" is "0.870"
            assert (row["dataset"], row["split"], row["seed"]) == (item.dataset.value, item.split.value, page.name)
            assert entry["url"] == item.row.ckpt_url
            assert entry["keys"] == {"id", "checkpoint", "input_size", "paradigm", "papers", "dataset", "results"}


@pytest.mark.parametrize(
    "cell",
    ["0.323, XX: 1", "!!python/object/apply:os.system ['echo owned']", "0.87o", "", "1e3", "010", "-0.5", "0.870 %"],
    ids=["adds-a-key", "python-tag", "letter", "empty", "exponent", "octal", "negative", "percent"],
)
def test_a_metric_cell_that_is_not_a_number_is_refused(capsys, seeds_dir, tmp_path, cell):
    page = _edited(seeds_dir, tmp_path, HIGHER, ROW_30, f"| 0.677 | {cell} |")
    for verb in (["import"], ["import", "--json"], ["sync", "--check"]):
        code, out, err = run(capsys, *verb, str(page))
        assert code == 2 and out == "", (verb, out)
        assert f"error: {HIGHER}:30: AP50 cell {cell!r} is not a number" in err, err
        assert "such as 0.870" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("old", "new", "check"),
    [
        # a bibtex key YAML 1.1 reads as false
        ("cheng2020higherhrnet", "no", lambda e: e["papers"][0] == "no"),
        # a checkpoint name (the entry id) YAML reads as null, and one that is a tag
        (
            "higher_hrnet32_coco_512x512-8ae85183_20200713.pth",
            "null-8ae85183_20200713.pth",
            lambda e: e["id"] == "null",
        ),
        (
            "higher_hrnet32_coco_512x512-8ae85183_20200713.pth",
            "!!str-8ae85183_20200713.pth",
            lambda e: e["id"] == "!!str",
        ),
        # a caption with a line separator (a YAML 1.1 line break) that would end the comment it is quoted in
        ("without multi-scale test", "without multi-scale test\u2028- id: injected", lambda e: True),
    ],
    ids=["bibtex-key-no", "id-null", "id-tag", "caption-line-separator"],
)
def test_hostile_page_text_is_written_as_text(capsys, seeds_dir, tmp_path, old, new, check):
    page = _edited(seeds_dir, tmp_path, HIGHER, old, new)
    code, out, err = run(capsys, "import", str(page))
    assert code == 0, err
    entries = _read_back(out)
    known = {"higher_hrnet32_coco_512x512", "higher_hrnet32_coco_640x640", "higher_hrnet48_coco_512x512"}
    assert {e["id"] for e in entries[1:]} <= known  # the edited row is the first entry; the others are untouched
    assert check(entries[0]), entries[0]
    assert "injected" not in {e["id"] for e in entries}
    assert entries[0]["rows"][0]["metrics"] == {"AP": "0.677", "AP50": "0.870", "AP75": "0.738", "AR": "0.723",
                                                "AR50": "0.890"}  # fmt: skip


def test_a_page_file_name_cannot_inject_yaml(capsys, seeds_dir, tmp_path):
    page = tmp_path / "evil\n- id: injected\n#.md"  # a file name may hold line breaks
    shutil.copy(seeds_dir / HIGHER, page)
    code, out, err = run(capsys, "import", str(page))
    assert code == 0, err
    entries = _read_back(out)
    assert [e["id"] for e in entries] == [
        "higher_hrnet32_coco_512x512", "higher_hrnet32_coco_640x640", "higher_hrnet48_coco_512x512",
    ]  # fmt: skip
    assert entries[0]["rows"][0]["seed"] == page.name


def test_sync_check_of_a_page_without_a_results_table_is_an_error(capsys, seeds_dir, tmp_path):
    page = tmp_path / "not_a_zoo_page.md"
    page.write_text("# HRNet\n\nA page about HRNet, with no results table.\n", encoding="utf-8")
    for verb in (["sync", "--check"], ["import"]):
        code, out, err = run(capsys, *verb, str(seeds_dir / HIGHER), str(page))
        assert code == 2 and out == "", out
        assert f"error: {page}: no results table; expected a model-zoo page with a results table" in err, err
