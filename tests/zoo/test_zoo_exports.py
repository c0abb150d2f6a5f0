"""`python -m zoo export model-index|hf-cards OUTDIR`: the files validate with their ecosystems' own readers
(Papers with Code's `model-index` package, huggingface_hub's card parser) and carry every number intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zoo import load_registry
from zoo.cli import main
from zoo.formats.ecosystem import architecture_tags, exported_metric
from zoo.results import history
from zoo.results.standing import by_row, standings

FIXTURE_HISTORY = Path(__file__).resolve().parents[1] / "fixtures" / "history"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture
def results_with_history(tmp_path, monkeypatch) -> Path:
    """$HRNET_ZOO_RESULTS with the fixture history (full, partial, fast-mode and overridden runs)."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE_HISTORY, results / "history")
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(results))
    return results


@pytest.fixture
def results_without_history(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(tmp_path / "no-results"))
    return tmp_path / "no-results"


def test_model_index_validates_and_finds_every_row_by_distinct_name(capsys, tmp_path, registry):
    modelindex = pytest.importorskip("modelindex", reason="model-index (the test extra) validates the metafiles")
    out_dir = tmp_path / "mi"
    code, _, err = run(capsys, "export", "model-index", str(out_dir))
    assert code == 0, err
    index = modelindex.load(str(out_dir))
    assert index.check(silent=True) == []
    models = {m.name: m for m in index.models}
    rows = [r for e in registry.entries.values() for r in e.results]
    assert len(models) == len(index.models) == len(rows) > 0  # one Model per row, names distinct
    for r in rows:
        model = models[r.row_id].full_model  # with its Collection's Metadata merged in, as mim reads it
        entry = registry.entries[r.entry_id]
        assert model.weights == entry.checkpoint.url.removeprefix("file:")
        assert model.in_collection in {c.name for c in index.collections}
        (result,) = model.results
        assert result.metrics == {exported_metric(m): v for m, v in r.metrics.items()}  # MMPose's names: AP@0.5
        assert result.dataset == registry.datasets[r.dataset].name
        assert model.metadata.architecture == architecture_tags(entry)  # on the Model itself, not only its Collection
        meta = model.metadata.data
        assert meta["Protocol"]["scales"] == list(r.protocol.scales)
        assert (meta["Entry"], meta["Row"], meta["Split"]) == (entry.id, r.name, r.split)
    single = models["higher_hrnet32_coco_512x512/single-scale"].metadata.data["Protocol"]
    multi = models["higher_hrnet32_coco_512x512/multi-scale"].metadata.data["Protocol"]
    assert single["scales"] == [1.0] and multi["scales"] == [2.0, 1.0, 0.5]
    assert "AP@0.5: 0.870" in (out_dir / "metafiles" / "coco.yml").read_text()  # as the page prints it


def _results(eval_results) -> list[tuple]:
    return sorted(
        (
            e.dataset_config,
            e.dataset_revision or "",
            e.metric_type,
            e.metric_name,
            e.metric_value,
            sorted((e.dataset_args or {}).items()),
            e.source_url or "",
        )
        for e in eval_results
    )


def test_hf_cards_round_trip_with_history(capsys, tmp_path, registry, results_with_history):
    hub = pytest.importorskip("huggingface_hub")
    from zoo.formats import hf_cards

    out_dir = tmp_path / "cards"
    code, _, err = run(capsys, "export", "hf-cards", str(out_dir))
    assert code == 0, err
    runs = by_row(standings(registry, history.load()))
    for entry in registry.entries.values():
        path = out_dir / entry.id / "README.md"
        card = hub.ModelCard.load(path)
        expected = hf_cards.eval_results(entry, registry, runs)
        assert card.data.model_name == entry.id and card.data.license == "apache-2.0"
        assert _results(card.data.eval_results) == _results(expected)  # every eval result intact
        assert hub.metadata_load(path) == card.data.to_dict()
        documented = [e for e in card.data.eval_results if e.metric_name.endswith("(documented)")]
        assert len(documented) == sum(len(r.metrics) for r in entry.results)
    # a full run of record: reproduced numbers with verdict, date, device and commit
    card = hub.ModelCard.load(out_dir / "hrnet_w32_aic_256x192" / "README.md")
    reproduced = {e.metric_type: e for e in card.data.eval_results if e.metric_name.endswith("(reproduced)")}
    assert reproduced["AP"].metric_value == 0.3234 and reproduced["AR@0.5"].metric_value == 0.7902
    args = reproduced["AP"].dataset_args
    assert args["verdict"] == "reproduced" and args["date"] == "2025-03-04T09:30:00+00:00"
    assert args["device"].startswith("cuda") and args["harness_commit"].startswith("0123456789abcdef")
    assert "verdict **reproduced**" in card.text
    # a partial run only: shown as partial in the text, never published as reproduced numbers
    card = hub.ModelCard.load(out_dir / "hrnet_w32_aic_512x512" / "README.md")
    assert not [e for e in card.data.eval_results if e.metric_name.endswith("(reproduced)")]
    assert "Partial run (never counts as a reproduction)" in card.text
    # the bibtex of every paper the entry cites, and the protocol in words
    assert all(registry.papers[k] in card.text for k in registry.entries["hrnet_w32_aic_512x512"].papers)
    assert "scales 2, 1, 0.5" in card.text


def test_hf_cards_without_history_carry_documented_numbers_only(capsys, tmp_path, registry, results_without_history):
    hub = pytest.importorskip("huggingface_hub")
    out_dir = tmp_path / "cards"
    assert run(capsys, "export", "hf-cards", str(out_dir))[0] == 0
    for entry in registry.entries.values():
        card = hub.ModelCard.load(out_dir / entry.id / "README.md")
        assert all(e.metric_name.endswith("(documented)") for e in card.data.eval_results)
        configs = {e.dataset_config for e in card.data.eval_results}
        assert configs == {r.name for r in entry.results}  # single- and multi-scale stay apart
        assert "No run of record yet" in card.text


def test_export_check_names_stale_and_missing_files(capsys, tmp_path, results_without_history):
    out_dir = tmp_path / "mi"
    assert run(capsys, "export", "model-index", str(out_dir))[0] == 0
    assert run(capsys, "export", "model-index", str(out_dir), "--check")[0] == 0
    coco = out_dir / "metafiles" / "coco.yml"
    coco.write_text(coco.read_text().replace("AP@0.5: 0.870", "AP@0.5: 0.871"))
    (out_dir / "metafiles" / "aic.yml").unlink()
    code, _, err = run(capsys, "export", "model-index", str(out_dir), "--check")
    assert code == 1
    assert f"{coco}: stale" in err and "aic.yml: missing" in err and "python -m zoo export model-index" in err
    assert run(capsys, "export", "model-index", str(out_dir))[0] == 0  # regenerating fixes both
    assert run(capsys, "export", "model-index", str(out_dir), "--check")[0] == 0


def test_export_refuses_a_folder_it_did_not_write(capsys, tmp_path, results_without_history):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("my notes")
    code, _, err = run(capsys, "export", "hf-cards", str(mine))
    assert code == 2 and "did not write" in err and "--force" in err
    assert (mine / "notes.md").read_text() == "my notes"
    assert run(capsys, "export", "hf-cards", str(mine), "--force")[0] == 0
    assert (mine / "notes.md").read_text() == "my notes"  # --force writes beside it, never removes it


def test_repository_exports_are_fresh(capsys, repo_root, monkeypatch):
    """exports/ is generated from zoo.yaml and results/history/ (what `nox -s tests` checks too)."""
    monkeypatch.delenv("HRNET_ZOO_RESULTS", raising=False)
    for fmt in ("model-index", "hf-cards"):
        code, _, err = run(capsys, "export", fmt, str(repo_root / "exports" / fmt), "--check")
        assert code == 0, err


def test_hf_card_metadata_is_valid_model_card_data_with_usage(capsys, tmp_path, registry, results_without_history):
    """Issue 21.7: library_name, datasets, pipeline_tag and a usage snippet whose commands the harness accepts."""
    import shlex

    hub = pytest.importorskip("huggingface_hub")
    from harness.cli import build_parser

    out_dir = tmp_path / "cards"
    assert run(capsys, "export", "hf-cards", str(out_dir))[0] == 0
    known = {"license", "library_name", "datasets", "pipeline_tag", "tags", "model-index"}
    for entry in registry.entries.values():
        path = out_dir / entry.id / "README.md"
        metadata = hub.metadata_load(path)
        assert set(metadata) == known, set(metadata) ^ known
        data = hub.ModelCardData(**metadata)  # strict: a model-index it cannot parse raises
        card = hub.ModelCard.load(path, ignore_metadata_errors=False)
        assert card.data.to_dict() == data.to_dict() == metadata
        shipped = entry.checkpoint.url.startswith("file:")
        assert data.library_name == ("hrnet-zoo" if shipped else "mmpose")
        assert data.pipeline_tag == "keypoint-detection"
        assert data.datasets == list(dict.fromkeys([entry.dataset, *(r.dataset for r in entry.results)]))
        assert {e.dataset_type for e in data.eval_results} <= set(data.datasets)
        snippet = card.text.split("## Usage", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
        commands = [shlex.split(line.split("  #")[0]) for line in snippet.strip().splitlines()]
        assert [c[3] for c in commands][:1] == ["fetch"] and entry.id in commands[0]
        assert any(c[3] == "reproduce" for c in commands) and any(c[3] == "evaluate" for c in commands)
        for command in commands:
            assert command[:3] == ["python", "-m", "harness"], command
            build_parser().parse_args(command[3:])  # a verb or flag the harness lacks exits here
