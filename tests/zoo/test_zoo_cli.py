"""`python -m zoo`: list / show / check / readme, and the torch-free import."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from zoo import load_registry
from zoo.cli import main
from zoo.evaluators import METRIC_NAMES
from zoo.formats import readme
from zoo.registry.load import DEFAULT_REGISTRY
from zoo.results.record import RunRecord
from zoo.results.standing import standings


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_table_and_wildcard(capsys):
    code, out, _ = run(capsys, "list", "*horse10*")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[0] == "id" and len(lines) == 1 + 6
    assert all("horse10" in ln for ln in lines[1:])


def _counts_in_zoo_yaml() -> tuple[int, int]:
    """Entries and result rows of the repository's zoo.yaml as plain YAML reads them (not through zoo.registry.load)."""
    doc = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    return len(doc["entries"]), sum(len(e["results"]) for e in doc["entries"])


def test_list_json_contract(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    data = json.loads(out)
    entries, rows = _counts_in_zoo_yaml()
    assert len(data) == entries and sum(len(e["results"]) for e in data) == rows
    for entry in data:
        # every zoo checkpoint is downloaded over https; the demo ships in the repository (file:)
        assert entry["id"] and entry["checkpoint"]["url"].startswith(("https://", "file:demo/"))
        for row in entry["results"]:
            assert row["dataset"] in {"aic", "coco", "horse10", "macaque", "atrw", "crowdpose", "mpii", "demo"}
            assert set(row["metrics"]) <= set(METRIC_NAMES)
            assert all(isinstance(v, float) for v in row["metrics"].values())
            assert isinstance(row["protocol"]["flip"], bool)
            assert all(isinstance(s, (int, float)) for s in row["protocol"]["scales"])
    hhr = next(e for e in data if e["id"] == "higher_hrnet32_coco_512x512")
    assert [r["protocol"]["scales"] for r in hhr["results"]] == [[1.0], [2.0, 1.0, 0.5]]
    assert hhr["results"][0]["metric_text"]["AP50"] == "0.870"


def test_show_entry_with_bibtex(capsys):
    code, out, _ = run(capsys, "show", "hrnet_w32_atrw_256x256")
    assert code == 0
    assert "GT, pad 1" in out and "@article{li2019atrw," in out and "0.959" in out
    code, out, _ = run(capsys, "show", "hrnet_w32_atrw_256x256", "--json")
    assert code == 0 and "li2019atrw" in json.loads(out)["bibtex"]


def test_show_unknown_id_suggests(capsys):
    code, _, err = run(capsys, "show", "hrnet_w32_atrw_256")
    assert code == 2
    assert "unknown entry 'hrnet_w32_atrw_256'" in err and "hrnet_w32_atrw_256x256" in err


def test_check_passes_on_fresh_readme_and_fails_on_stale(capsys, tmp_path):
    fresh = tmp_path / "README.md"
    fresh.write_text(f"intro\n{readme.START}\n{readme.END}\noutro\n", encoding="utf-8")
    code, out, _ = run(capsys, "readme", "--readme", str(fresh))
    assert code == 0 and "0.870" in fresh.read_text() and fresh.read_text().endswith("outro\n")
    code, out, _ = run(capsys, "check", "--readme", str(fresh))
    entries, rows = _counts_in_zoo_yaml()
    assert code == 0 and out.startswith(f"ok: {entries} entries, {rows} result rows")
    stale = tmp_path / "stale.md"
    stale.write_text(fresh.read_text().replace("| 0.870 |", "| 0.871 |"), encoding="utf-8")
    code, _, err = run(capsys, "check", "--readme", str(stale))
    assert code == 1 and "stale" in err
    code, _, err = run(capsys, "readme", "--check", "--readme", str(stale))
    assert code == 1 and "python -m zoo readme" in err


def test_check_lists_every_registry_problem(capsys, tmp_path):
    text = DEFAULT_REGISTRY.read_text().replace('"30a4e465"', '"30a4e466"').replace("{AP: 0.303,", "{APX: 0.303,")
    bad = tmp_path / "zoo.yaml"
    bad.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "--registry", str(bad), "check")
    assert code == 1
    assert "2 problem(s)" in err and "sha256_prefix" in err and "metrics.APX" in err


def test_repository_readme_is_fresh(repo_root):
    assert readme.readme_problems(load_registry(), repo_root / "README.md") == []


def test_reproduced_columns_render_a_dash_when_absent():
    reg = load_registry()
    run = RunRecord(
        "k", "hrnet_w32_atrw_256x256/gt-bbox", "hrnet_w32_atrw_256x256", "published", False, {"AP": 0.9118}, "2026"
    )
    text = readme.render_tables(reg, reproduced=standings(reg, [run]))
    row = next(ln for ln in text.splitlines() if ln.startswith("| `hrnet_w32_atrw_256x256`"))
    assert "0.912 / – / – / – / –" in row and "| failed |" in row  # the other documented metrics are missing
    other = next(ln for ln in text.splitlines() if ln.startswith("| `hrnet_w48_atrw_256x256`"))
    assert "| – | – |" in other
    assert "Reproduced" not in readme.render_tables(reg)


def test_import_without_torch(repo_root):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import zoo, zoo.registry.load, zoo.cli, zoo.formats.readme\n"
        f"r = zoo.load_registry(); assert len(r.entries) == {_counts_in_zoo_yaml()[0]}\n"
        "assert 'torch' not in {m for m in sys.modules if sys.modules[m] is not None}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo_root)
    assert done.returncode == 0, done.stderr


def test_python_dash_m_zoo(repo_root):
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "higher_*"], capture_output=True, text=True, timeout=120, cwd=repo_root
    )
    assert done.returncode == 0, done.stderr
    assert [ln.split()[0] for ln in done.stdout.splitlines()[1:]] == [
        "higher_hrnet32_coco_512x512",
        "higher_hrnet32_coco_640x640",
        "higher_hrnet48_coco_512x512",
        "higher_hrnet32_crowdpose_512x512",
        "higher_hrnet32_coco_512x512_udp",
        "higher_hrnet48_coco_512x512_udp",
    ]
