"""zoo.yaml loading: resolved frozen records, and malformed variants that must name the field path and the line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from zoo import RegistryError, load_registry
from zoo.registry.load import DEFAULT_REGISTRY, PACKAGE_DIR

ZOO_TEXT = DEFAULT_REGISTRY.read_text(encoding="utf-8")
KEYPOINTS = PACKAGE_DIR / "keypoints.yaml"
PAPERS = PACKAGE_DIR / "papers.bib"


def variant(tmp_path: Path, *edits: tuple[str, str], text: str = ZOO_TEXT) -> Path:
    """zoo.yaml with each (old, new) replaced once (old must occur), written to tmp_path."""
    for old, new in edits:
        assert old in text, f"test edit not applicable: {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path / "zoo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing needle."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not {nth} times in {path}"
    return hits[nth - 1]


def problems_of(path: Path, **kw) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry(path, keypoints=kw.get("keypoints", KEYPOINTS), papers=kw.get("papers", PAPERS))
    assert str(path) in str(info.value)
    return info.value.problems


def assert_problem(problems: list[str], field_path: str, line: int, words: str) -> None:
    prefix = f"{field_path} (line {line}): "
    hits = [p for p in problems if p.startswith(prefix) or f": {prefix}" in p]
    assert hits, f"no problem at {prefix!r} in:\n" + "\n".join(problems)
    assert any(words in p and "; expected " in p for p in hits), hits


# ----------------------------------------------------------------------------------------------- the real file


def test_records_are_resolved_and_frozen():
    reg = load_registry()
    row = reg.row("higher_hrnet32_coco_512x512/single-scale")
    assert row.metric_text["AP50"] == "0.870" and row.metrics["AP50"] == 0.87
    assert isinstance(row.metrics, MappingProxyType) and isinstance(reg.entries, MappingProxyType)
    with pytest.raises(TypeError):
        row.metrics["AP"] = 1.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.name = "x"  # type: ignore[misc]
    p = row.protocol
    assert (p.paradigm, p.flip, p.scales, p.max_num_people, p.nms_kernel) == ("bottomup", True, (1.0,), 30, 5)
    assert (p.evaluator.library, p.era.stage_aggregation, p.era.grouping_max_groups) == (
        "pycocotools",
        "upsample_to_last",
        30,
    )
    assert reg.row("higher_hrnet32_coco_512x512/multi-scale").protocol.scales == (2.0, 1.0, 0.5)


def test_protocol_details_per_dataset():
    reg = load_registry()
    atrw = reg.row("hrnet_w32_atrw_256x256").protocol
    assert atrw.padding == 1.0 and atrw.boxes.kind == "gt" and atrw.era.gt_box_shrink
    aic = reg.row("hrnet_w32_aic_256x192").protocol
    assert aic.evaluator.use_area is False and (aic.vis_thr, aic.oks_nms_thr, aic.padding) == (0.2, 0.9, 1.25)
    coco = reg.row("hrnet_w32_coco_256x192_gridmask").protocol
    assert coco.boxes.file == "COCO_val2017_detections_AP_H_56_person.json" and not coco.era.gt_box_shrink
    horse = reg.row("hrnet_w48_horse10_256x256_split3")
    assert horse.split == "split3" and horse.protocol.evaluator.kind == "pck_nme"
    assert horse.protocol.evaluator.pck_threshold == 0.3 and horse.protocol.oks_nms_thr is None
    ae = reg.row("hrnet_w32_aic_512x512/single-scale").protocol
    assert ae.era.stage_aggregation is None and ae.era.grouping_max_groups == 30
    assert reg.datasets["coco"].splits["val2017"].bbox_file == (
        "coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
    )
    assert all(r.tolerances == {m: 0.002 for m in r.metrics} for e in reg.entries.values() for r in e.results)


def test_every_referenced_paper_exists():
    reg = load_registry()
    keys = {k for e in reg.entries.values() for k in e.papers} | {d.paper for d in reg.datasets.values()}
    assert keys <= set(reg.papers)
    assert {"mathis2021pretraining", "labuguen2021macaquepose", "li2019atrw"} <= keys


def test_cache_and_env_var(tmp_path, monkeypatch):
    assert load_registry() is load_registry()
    path = variant(tmp_path, ("name: HRNet-W32 top-down, AIC, 256x192", "name: Renamed"))
    monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(path))
    assert load_registry().entries["hrnet_w32_aic_256x192"].name == "Renamed"


def test_row_tolerance_override(tmp_path):
    old = "        source: *src-aic-td\n"
    path = variant(tmp_path, (old, old + "        tolerances: {AP50: 0.003}\n"))
    row = load_registry(path).row("hrnet_w32_aic_256x192")
    assert row.tolerances["AP50"] == 0.003 and row.tolerances["AP"] == 0.002


def test_sibling_files_are_used(tmp_path):
    path = variant(tmp_path)
    (tmp_path / "papers.bib").write_text(PAPERS.read_text().replace("@article{li2019atrw", "@article{li2019atrwx"))
    problems = problems_of(path, keypoints=None, papers=None)
    assert any("unknown bibtex key in papers.bib 'li2019atrw'" in p for p in problems)


# ----------------------------------------------------------------------------------------------- malformed input

AIC_TD_URL = "https://download.openmmlab.com/mmpose/top_down/hrnet/hrnet_w32_aic_256x192-30a4e465_20200826.pth"


def test_missing_field(tmp_path):
    path = variant(
        tmp_path, ("    config: configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/aic/hrnet_w32_aic_256x192.py\n", "")
    )
    assert_problem(problems_of(path), "entries[0].config", line_of(path, "- id: hrnet_w32_aic_256x192"), "missing")


def test_wrong_type(tmp_path):
    path = variant(tmp_path, ("{backbone: hrnet, width: 32,", "{backbone: hrnet, width: thirty-two,"))
    assert_problem(problems_of(path), "entries[0].architecture.width", line_of(path, "thirty-two"), "string")


def test_unknown_field(tmp_path):
    path = variant(tmp_path, ("    dataset: aic\n", "    dataset: aic\n    datset: aic\n"))
    assert_problem(problems_of(path), "entries[0].datset", line_of(path, "datset"), "did you mean 'dataset'")


def test_duplicate_entry_id(tmp_path):
    path = variant(tmp_path, ("- id: hrnet_w32_aic_512x512", "- id: hrnet_w32_aic_256x192  # copy"))
    assert_problem(problems_of(path), "entries[1].id", line_of(path, "# copy"), "duplicate id")


def test_duplicate_yaml_key(tmp_path):
    path = variant(tmp_path, ("    dataset: aic\n", "    dataset: aic\n    dataset: coco\n"))
    assert_problem(problems_of(path), "entries[0].dataset", line_of(path, "dataset: coco"), "duplicate key")


def test_duplicate_result_name(tmp_path):
    path = variant(tmp_path, ("      - name: multi-scale", "      - name: single-scale"))
    assert_problem(
        problems_of(path), "entries[1].results[1].name", line_of(path, "- name: single-scale", 2), "duplicate"
    )


def test_bad_url(tmp_path):
    path = variant(tmp_path, (AIC_TD_URL, AIC_TD_URL.replace("https:", "http:")))
    assert_problem(problems_of(path), "entries[0].checkpoint.url", line_of(path, "url: http://"), "not https")


def test_url_without_file_name(tmp_path):
    path = variant(tmp_path, (AIC_TD_URL, "https://download.openmmlab.com/mmpose/  # no file"))
    assert_problem(problems_of(path), "entries[0].checkpoint.url", line_of(path, "# no file"), "file name")


def test_hash_prefix_not_8_hex(tmp_path):
    path = variant(tmp_path, ('sha256_prefix: "30a4e465"', 'sha256_prefix: "30A4E46"'))
    assert_problem(
        problems_of(path), "entries[0].checkpoint.sha256_prefix", line_of(path, "30A4E46"), "8 lowercase hex"
    )


def test_hash_prefix_bare_digits(tmp_path):
    path = variant(tmp_path, ('sha256_prefix: "30a4e465"', "sha256_prefix: 30404465"))
    assert_problem(problems_of(path), "entries[0].checkpoint.sha256_prefix", line_of(path, "30404465"), "quoted string")


def test_hash_prefix_not_matching_url(tmp_path):
    path = variant(tmp_path, ('sha256_prefix: "30a4e465"', 'sha256_prefix: "30a4e466"'))
    assert_problem(
        problems_of(path), "entries[0].checkpoint.sha256_prefix", line_of(path, "30a4e466"), "does not match the URL"
    )


def test_unknown_keypoint_schema(tmp_path):
    path = variant(tmp_path, ("num_keypoints: 14, keypoint_schema: aic}", "num_keypoints: 14, keypoint_schema: aicc}"))
    assert_problem(
        problems_of(path), "entries[0].architecture.keypoint_schema", line_of(path, "aicc"), "unknown keypoint schema"
    )


def test_num_keypoints_mismatch(tmp_path):
    path = variant(tmp_path, ("num_keypoints: 14, keypoint_schema: aic}", "num_keypoints: 17, keypoint_schema: aic}"))
    assert_problem(problems_of(path), "entries[0].architecture.num_keypoints", line_of(path, "num_keypoints: 17"), "14")


def test_unknown_metric_name(tmp_path):
    path = variant(tmp_path, ("metrics: {AP: 0.323,", "metrics: {mAP: 0.323,"))
    assert_problem(problems_of(path), "entries[0].results[0].metrics.mAP", line_of(path, "mAP"), "unknown metric")


def test_metrics_inconsistent_with_evaluator(tmp_path):
    path = variant(tmp_path, ("metrics: {PCK@0.3: 0.951, NME: 0.122}", "metrics: {AP: 0.951, NME: 0.122}"))
    entries = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))["entries"]
    index = next(i for i, e in enumerate(entries) if e["results"][0]["metrics"].get("PCK@0.3") == 0.951)
    assert_problem(problems_of(path), f"entries[{index}].results[0].metrics", line_of(path, "{AP: 0.951"), "pck_nme")


def test_unknown_protocol_template(tmp_path):
    path = variant(tmp_path, ("protocol: {base: td-aic-gt}", "protocol: {base: td-aic}"))
    assert_problem(problems_of(path), "entries[0].results[0].protocol.base", line_of(path, "td-aic}"), "did you mean")


def test_unknown_bibtex_key(tmp_path):
    path = variant(tmp_path, ("papers: [sun2019deep, wu2017ai]", "papers: [sun2019deeep, wu2017ai]"))
    assert_problem(problems_of(path), "entries[0].papers[0]", line_of(path, "sun2019deeep"), "sun2019deep")


def test_bibtex_that_does_not_parse(tmp_path):
    path = variant(tmp_path)
    bib = tmp_path / "broken.bib"
    bib.write_text(PAPERS.read_text() + "\n@article{broken2024,\n  title={unclosed\n", encoding="utf-8")
    line = line_of(bib, "@article{broken2024")
    problems = problems_of(path, papers=bib)
    assert any(p.startswith("broken.bib: ") and f"(line {line}): bibtex does not parse" in p for p in problems), (
        problems
    )


def test_keypoint_schema_problems(tmp_path):
    text = KEYPOINTS.read_text().replace("[[0, 1], [3, 5],", "[[0, 1], [3, 15],").replace("0.0539]", "0.0539, 0.1]")
    kp = tmp_path / "kp.yaml"
    kp.write_text(text, encoding="utf-8")
    problems = problems_of(variant(tmp_path), keypoints=kp)
    assert_problem(problems, "schemas.atrw.flip_pairs[1]", line_of(kp, "[3, 15]"), "out of range")
    assert_problem(problems, "schemas.atrw.sigmas", line_of(kp, "sigmas: [0.0277"), "16 sigmas for 15")


def test_yaml_syntax_error(tmp_path):
    path = variant(tmp_path, ("metrics: {AP: 0.323,", "metrics: {AP: 0.323,,"))
    assert any("YAML syntax error" in p for p in problems_of(path))


def test_several_problems_at_once(tmp_path):
    path = variant(
        tmp_path,
        ('sha256_prefix: "30a4e465"', 'sha256_prefix: "30a4e466"'),
        ("metrics: {AP: 0.303,", "metrics: {APP: 0.303,"),
        ("{backbone: hrnet, width: 48,", "{backbone: hrnet, width: 0,"),
        ("    dataset: atrw\n", "    dataset: tiger\n"),
    )
    problems = problems_of(path)
    assert len(problems) >= 4, problems
    for needle in ("sha256_prefix", "metrics.APP", "architecture.width", "dataset (line"):
        assert any(needle in p for p in problems), needle
    assert all(re.search(r"\(line \d+\): .+; expected ", p) for p in problems), problems


def test_bottomup_affine_is_a_closed_choice_and_bottomup_only(tmp_path):
    path = variant(
        tmp_path,
        ("protocol: {base: bu-aic-ae}", "protocol: {base: bu-aic-ae, affine: unbiased}"),
        ("protocol: {base: td-aic-gt}", "protocol: {base: td-aic-gt, refine: true}"),
    )
    problems = problems_of(path)
    assert_problem(problems, "entries[1].results[0].protocol.affine", line_of(path, "affine: unbiased"), "udp")
    line = line_of(path, "td-aic-gt, refine: true")
    assert_problem(problems, "entries[0].results[0].protocol.refine", line, "does not apply")
