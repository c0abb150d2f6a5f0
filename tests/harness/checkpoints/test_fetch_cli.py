"""`python -m harness fetch` end to end: a tiny registry whose checkpoints the local HTTP server serves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.checkpoints import store
from harness.cli import main
from harness.commands import fetch as fetch_cmd
from zoo.registry.schema import Architecture, Checkpoint, Entry, Registry


def _entry(entry_id: str, checkpoint: Checkpoint) -> Entry:
    arch = Architecture(
        backbone="hrnet", width=32, head="heatmap", input_size=(256, 192), heatmap_sizes=((64, 48),),
        num_keypoints=17, keypoint_schema="coco",
    )  # fmt: skip
    return Entry(
        id=entry_id, name=entry_id, architecture=arch, checkpoint=checkpoint, config="cfg.py", papers=(),
        dataset="coco", results=(),
    )  # fmt: skip


@pytest.fixture
def registry(serve, server, monkeypatch, cache):
    """Three entries: two served, one whose URL answers 404."""
    good_a, good_b = serve(), serve(b"second checkpoint" * 5000)
    bad = serve(b"gone" * 100)
    server.fail(bad.path, 404, times=None)
    reg = Registry(
        entries={e.id: e for e in (_entry("td-a", good_a.checkpoint), _entry("td-b", good_b.checkpoint),
                                   _entry("gone", bad.checkpoint))},
        datasets={}, schemas={}, papers={},
    )  # fmt: skip
    monkeypatch.setattr(fetch_cmd, "_load_registry", lambda: reg)
    return reg


def test_fetch_ids_prints_verified_paths(registry, capsys) -> None:
    assert main(["fetch", "td-a", "td-b", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = [store.expected_path(registry.entry(i).checkpoint) for i in ("td-a", "td-b")]
    assert out == [str(p) for p in expected]
    assert all(p.is_file() for p in expected)


def test_fetch_pattern_selects_entries(registry, capsys) -> None:
    assert main(["fetch", "td-*", "--no-progress"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_fetch_all_continues_past_failures_and_summarises(registry, capsys, cache: Path) -> None:
    assert main(["fetch", "--all", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "2 of 3 checkpoints verified" in captured.err
    assert "gone: DownloadError: HTTP 404" in captured.err
    assert not store.expected_path(registry.entry("gone").checkpoint).exists()


def test_fetch_offline_reports_where_to_put_the_file(registry, capsys) -> None:
    assert main(["fetch", "td-a", "--offline"]) == 1
    err = capsys.readouterr().err
    assert str(store.expected_path(registry.entry("td-a").checkpoint)) in err and "OfflineError" not in err


def test_unknown_id_exits_2_with_close_matches(registry, capsys) -> None:
    assert main(["fetch", "td-c"]) == 2
    err = capsys.readouterr().err
    assert "unknown entry 'td-c'" in err and "td-a" in err


def test_ids_and_all_are_exclusive(registry, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fetch"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["fetch", "td-a", "--all"])


def test_help_names_cache_and_offline_variables(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fetch", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "--offline" in out and "HRNET_ZOO_CACHE" in out


# -- against the real registry (zoo.yaml): no network needed ----------------------------------------------------


@pytest.fixture
def real_registry(cache) -> Registry:
    zoo = pytest.importorskip("zoo")
    if not hasattr(zoo, "load_registry"):
        pytest.skip("zoo.load_registry is not there yet")
    return zoo.load_registry()


def test_real_registry_offline_fetch_names_url_and_path(real_registry, capsys) -> None:
    entry = next(iter(real_registry.entries.values()))
    assert main(["fetch", entry.id, "--offline", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert entry.checkpoint.url in err
    assert str(store.expected_path(entry.checkpoint)) in err
    assert f"sha256 must start with {entry.checkpoint.sha256_prefix}" in err


def test_real_registry_unknown_id_suggests_close_matches(real_registry, capsys) -> None:
    entry = next(iter(real_registry.entries.values()))
    assert main(["fetch", entry.id + "x"]) == 2
    assert entry.id in capsys.readouterr().err


# -- --json (issue 21.7) ----------------------------------------------------------------------------------------


def test_fetch_json_lists_every_checkpoint_with_its_status(registry, capsys) -> None:
    assert main(["fetch", "--all", "--no-progress", "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (doc["verified"], doc["failed"]) == (2, 1)
    by_id = {c["id"]: c for c in doc["checkpoints"]}
    assert list(by_id) == ["td-a", "td-b", "gone"]
    good = by_id["td-a"]
    assert good["status"] == "verified" and good["error"] is None
    assert good["path"] == str(store.expected_path(registry.entry("td-a").checkpoint))
    assert good["filename"] == registry.entry("td-a").checkpoint.filename
    assert good["sha256_prefix"] == registry.entry("td-a").checkpoint.sha256_prefix
    gone = by_id["gone"]
    assert gone["status"] == "failed" and gone["path"] is None and "HTTP 404" in gone["error"]
    assert "2 of 3 checkpoints verified" in captured.err  # the message for people stays on stderr


def test_fetch_json_error_is_a_clear_message_and_no_document(registry, capsys) -> None:
    assert main(["fetch", "td-c", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: unknown entry 'td-c'" in captured.err


def test_fetch_reuses_torch_hub_copy_through_the_cli(serve, server, cache, monkeypatch, capsys) -> None:
    s = serve()
    reg = Registry(entries={"th": _entry("th", s.checkpoint)}, datasets={}, schemas={}, papers={})
    monkeypatch.setattr(fetch_cmd, "_load_registry", lambda: reg)
    folder = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / s.checkpoint.filename).write_bytes(s.data)
    assert main(["fetch", "th", "--no-progress", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checkpoints"][0]["status"] == "verified"
    assert server.requests == []  # no download: torch.hub's copy was verified and used


def test_help_example_pattern_matches_the_registry(real_registry, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fetch", "--help"])
    out = capsys.readouterr().out
    assert "'*_aic_*'" in out and real_registry.match("*_aic_*")
