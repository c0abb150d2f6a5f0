"""What `data` says next (issue 21.7): an offline fetch names every file it could not get, then the command; a check
of missing files names the `data fetch` command; `--json` of list, check and fetch parses and holds the key fields;
an error under --json is still `error: ...` on stderr, no document, exit 2."""

from __future__ import annotations

import json

from harness.cli import main


def _run(env, action: str, *args: str) -> int:
    return main(["data", action, *args, "--data-root", str(env.root), "--no-progress"])


def test_offline_fetch_names_every_file_then_the_command(data_env, monkeypatch, capsys):
    env = data_env
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "1")
    assert _run(env, "fetch", "coco") == 1
    err = capsys.readouterr().err
    for path, name in [("/coco/annotations/annotations_trainval2017.zip", "annotations_trainval2017.zip"),
                       ("/coco/zips/val2017.zip", "val2017.zip")]:  # fmt: skip
        assert env.server.url(path) in err
        assert str(env.root / "downloads/coco" / name) in err
    assert "COCO_val2017_detections_AP_H_56_person.json" in err  # the manual step too
    last = err.strip().splitlines()[-1]
    assert last.startswith("then run again online (reconnect, or unset HRNET_ZOO_OFFLINE and HF_HUB_OFFLINE): ")
    assert last.endswith(f"python -m harness data fetch coco --data-root {env.root}")
    assert not env.server.requests


def test_check_of_missing_files_names_the_fetch_command(data_env, capsys):
    env = data_env
    assert main(["data", "check", "atrw", "coco", "--data-root", str(env.root)]) == 1
    err = capsys.readouterr().err
    for key in ("atrw", "coco"):
        assert f"Lay it out with: python -m harness data fetch {key} --data-root {env.root}" in err
    assert f"to lay out all of them: python -m harness data fetch atrw coco --data-root {env.root}" in err


def test_list_json(data_env, capsys):
    env = data_env
    assert main(["data", "list", "atrw", "coco", "--data-root", str(env.root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["data_root"] == str(env.root)
    assert [d["key"] for d in doc["datasets"]] == ["atrw", "coco"]
    coco = doc["datasets"][1]
    assert coco["lock"] == "not pinned" and coco["splits"] == ["val2017"]
    sources = {s["name"]: s for s in coco["sources"]}
    assert sources["annotations"]["state"] == "missing" and sources["annotations"]["urls"]
    assert sources["detections"]["manual"]["file"] == "COCO_val2017_detections_AP_H_56_person.json"
    assert {"format", "sha256", "targets", "download_path", "terms", "requires_acceptance"} <= set(sources["images"])


def test_check_json_missing_then_fetch_json_then_check_json_ok(data_env, capsys):
    env = data_env
    assert main(["data", "check", "atrw", "--data-root", str(env.root), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [atrw] = doc["datasets"]
    assert doc["ok"] is False and atrw["ok"] is False and atrw["problems"]
    assert atrw["fetch_command"] == f"python -m harness data fetch atrw --data-root {env.root}"

    assert _run(env, "fetch", "atrw", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    [atrw] = doc["datasets"]
    assert doc["ok"] is True and doc["next"] is None and doc["manual_steps"] == []
    assert atrw["status"] == "laid out" and atrw["errors"] == [] and atrw["laid_out"]
    assert atrw["check"]["ok"] is True and atrw["check"]["pinned"] is True

    assert main(["data", "check", "atrw", "--data-root", str(env.root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [atrw] = doc["datasets"]
    assert doc["ok"] is True and atrw["fetch_command"] is None
    assert atrw["splits"][0]["split"] == "val" and atrw["splits"][0]["counts"]["images"] > 0


def test_fetch_json_offline_lists_every_failure_and_the_next_command(data_env, monkeypatch, capsys):
    env = data_env
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "1")
    assert _run(env, "fetch", "coco", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    [coco] = doc["datasets"]
    assert coco["status"] == "failed" and coco["offline"] is True and len(coco["errors"]) == 2
    assert len(doc["manual_steps"]) == 1
    assert doc["next"] == f"python -m harness data fetch coco --data-root {env.root}"


def test_json_error_is_a_message_and_exit_2(data_env, capsys):
    env = data_env
    assert main(["data", "check", "nosuchdataset", "--data-root", str(env.root), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: unknown dataset 'nosuchdataset'" in captured.err
