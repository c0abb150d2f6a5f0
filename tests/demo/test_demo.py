"""The demo entry (issue 8): its data, its documented numbers, and the whole loop offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.demo import generate
from harness.demo.document import ENTRY_ID
from zoo import load_registry
from zoo.formats import readme
from zoo.results import portable

ROW = f"{ENTRY_ID}/gt-bbox"


def test_registry_schema_matches_the_generator():
    schema = load_registry().schemas["demo"]
    assert schema.keypoints == generate.KEYPOINTS
    assert schema.flip_pairs == generate.FLIP_PAIRS
    assert schema.sigmas == generate.SIGMAS


def test_documented_numbers_come_from_documented_json(repo_root):
    documented = json.loads((repo_root / "demo" / "documented.json").read_text())
    result = load_registry().row(ROW)
    assert dict(result.metric_text) == documented["metrics"]
    assert {k: round(v, 3) for k, v in documented["exact"].items() if k in result.metrics} == dict(result.metrics)
    entry = load_registry().entry(ENTRY_ID)
    assert documented["checkpoint"]["sha256"].startswith(entry.checkpoint.sha256_prefix)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate.generate(root / "demo", splits={"train": 0, "val": 80})
    return root


def test_generator_is_deterministic(demo_root, tmp_path):
    again = generate.generate(tmp_path / "demo", splits={"train": 0, "val": 80})
    first = json.loads((demo_root / "demo" / "manifest.json").read_text())
    assert again["content_sha256"] == first["content_sha256"]


QUIET = ["--no-progress"]
#: What a run writes into the checkout: the history and reports, exports, README tables (tracked files).
CHECKOUT = ("results", "reports", "exports", "README.md")


def _snapshot(workspace: Path) -> dict[str, bytes]:
    files = {}
    for name in CHECKOUT:
        top = workspace / name
        for path in [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()):
            files[path.relative_to(workspace).as_posix()] = path.read_bytes()
    return files


def _quick_start(capsys) -> str:
    """`nox -s reproduce-demo`'s two commands, run as it runs them (from the checkout, `--data-root data`)."""
    generate.main(["--root", "data/demo", "--train", "0", "--val", "80"])
    rc = main(["reproduce", "--dataset", "demo", "--data-root", "data", "--offline", "--device", "cpu", *QUIET])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"reproduced  {ROW}" in out
    return out


@pytest.mark.slow
def test_quick_start_twice_reproduces_then_changes_nothing_but_the_history(workspace, repo_root, monkeypatch, capsys):
    """The quick start in a copy of the checkout's generated files (history, reports, exports, README), twice:
    "reproduced" offline; the second run confirms the first and adds its history record, and nothing else changes;
    no file written holds a path of this machine (zoo.results.portable)."""
    for name in ("results", "reports", "exports"):
        shutil.copytree(repo_root / name, workspace / name)
    monkeypatch.chdir(workspace)
    _quick_start(capsys)
    page = (workspace / "reports" / "demo.md").read_text()
    assert "| reproduced |" in page and "Partial run" not in page
    # the shipped checkpoint went through the verified cache (file: URL, hash checked), offline
    assert list((workspace / "cache").glob(f"{ENTRY_ID}-*.pth"))
    before = _snapshot(workspace)

    out = _quick_start(capsys)
    after = _snapshot(workspace)
    assert "confirmed, reports unchanged" in out
    changed = sorted(k for k in before if after.get(k) != before[k])
    added = sorted(set(after) - set(before))
    assert changed == []
    assert len(added) == 1 and added[0].startswith("results/history/") and ENTRY_ID in added[0]

    record = json.loads(after[added[0]])
    prov = record["provenance"]
    assert prov["checkpoint"]["path"] == f"$CACHE/{Path(prov['checkpoint']['path']).name}"
    assert prov["annotations"]["path"] == "$DATA/demo/annotations/val.json"
    assert prov["images_dir"] == "$DATA/demo/images/val"
    written = [p for p in workspace.rglob("*") if p.is_file() and p.suffix in (".json", ".md", ".yml", ".generated")]
    written += list(workspace.glob("exports/*/.generated"))
    machine = (str(workspace), str(workspace.resolve()), str(Path.home()), "/root", "/home/", "/tmp/")
    leaks = {}
    for path in written:
        if path.is_relative_to(workspace / "data"):
            continue  # the generated demo data, not a recorded file
        text = path.read_text(encoding="utf-8")
        if path == workspace / "README.md":  # only its generated tables: the prose documents defaults such as ~/.cache
            text = text[text.index(readme.START) : text.index(readme.END)]
        if found := portable.machine_paths(text, *machine):
            leaks[path.relative_to(workspace).as_posix()] = found
    assert leaks == {}


def _ap(tmp_path: Path, demo_root: Path, *extra: str) -> float:
    out = tmp_path / "out"
    assert (
        main(
            [
                "evaluate",
                ENTRY_ID,
                "--data-root",
                str(demo_root),
                "--offline",
                "--out",
                str(out),
                "--device",
                "cpu",
                "--no-progress",
                *extra,
            ]
        )
        == 0
    )
    return json.loads((out / "metrics.json").read_text())["metrics"]["AP"]


@pytest.mark.slow
def test_no_flip_or_a_broken_flip_pair_drops_ap(workspace, demo_root, tmp_path, monkeypatch, repo_root):
    documented = load_registry().row(ROW).metrics["AP"]
    no_flip = _ap(tmp_path / "a", demo_root, "--no-flip")
    assert no_flip < documented - 0.01
    # A registry whose demo schema forgets that the wrists swap under a flip (PROTOCOLS.md §3 channel swap).
    reg = tmp_path / "reg"
    reg.mkdir()
    for name in ("zoo.yaml", "papers.bib"):
        shutil.copy(repo_root / (name if name == "zoo.yaml" else f"zoo/{name}"), reg / name)
    kp = (repo_root / "zoo" / "keypoints.yaml").read_text()
    broken = "    flip_pairs: [[1, 2], [3, 4], [7, 8], [9, 10], [11, 12]]"
    kp = kp.replace(
        "    flip_pairs: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]\n    sigmas: [0.060",
        broken + "\n    sigmas: [0.060",
    )
    assert broken in kp
    (reg / "keypoints.yaml").write_text(kp)
    monkeypatch.setenv("HRNET_ZOO_REGISTRY", str(reg / "zoo.yaml"))
    broken_ap = _ap(tmp_path / "b", demo_root)
    assert broken_ap < documented - 0.01


@pytest.mark.slow
def test_reproduce_json_summary(workspace, demo_root, capsys):
    """`reproduce --json` (issue 21.7): the summary as one object on stdout; progress stays on stderr."""
    args = ["reproduce", "--dataset", "demo", "--data-root", str(demo_root), "--offline", "--device", "cpu"]
    rc = main([*args, "--no-progress", "--limit", "8", "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert rc == doc["exit_status"] == 0, captured.err
    [row] = doc["rows"]
    assert doc["dataset"] == "demo" and row["row_id"] == ROW and row["entry_id"] == ENTRY_ID
    assert row["partial"] is True and row["counts"] is False and row["verdict"].startswith("partial (")
    assert row["informational"] and row["run_key"] and row["run_dir"].startswith(str(workspace / "runs"))
    names = [m["name"] for m in row["metrics"]]
    assert "AP" in names
    ap = row["metrics"][names.index("AP")]
    assert {"documented", "reproduced", "delta", "tolerance", "verdict", "direction"} <= set(ap)
    assert abs(ap["reproduced"] - ap["documented"] - ap["delta"]) < 1e-12


def test_a_run_on_an_absolute_data_root_records_no_machine_path(workspace, demo_root, tmp_path):
    """--data-root, the cache and --out all absolute (tmp): result.json and metrics.json name files as $DATA/...
    and $CACHE/... (zoo.results.portable), whatever the machine's folders."""
    out = tmp_path / "out"
    argv = ["evaluate", ENTRY_ID, "--data-root", str(demo_root.resolve()), "--offline", "--limit", "2"]
    assert main([*argv, "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["provenance"]["annotations"]["path"] == "$DATA/demo/annotations/val.json"
    assert record["provenance"]["checkpoint"]["path"].startswith("$CACHE/")
    assert record["provenance"]["counts"]["load_report"].startswith("$DATA/demo/annotations/val.json: ")
    machine = (str(tmp_path), str(demo_root), str(workspace), str(Path.home()), "/tmp/")
    for name in ("result.json", "metrics.json"):
        assert portable.machine_paths((out / name).read_text(), *machine) == [], name
