"""Report golden (issue: reproduce sessions, report part): committed history records (tests/fixtures/history, the
exact result.json format of harness/engine.py, fixed dates and provenance) rendered against the real registry
must give exactly the committed pages under tests/golden/reports/. Plus `report.stale()` and `report --check`.

Fixture rows: AIC top-down reproduced (an older full run and a newer --limit run that must not displace it),
Macaque drift (CPU, dirty tree), HigherHRNet-W32 failed (plus an mmpose-0.29 run and a --no-flip run that the
published report ignores), AE AIC partial (sample data), Horse-10 W32 reproduced with NME worse (lower is
better) and W48 failed with NME better. Accept: HRNET_ZOO_ACCEPT_GOLDEN=1 pytest tests/harness/test_report_golden.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import report
from tests.helpers import golden
from zoo import load_registry
from zoo.results import history

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "history"
GOLDEN = REPO / "tests" / "golden" / "reports"
HOW = "pytest tests/harness/test_report_golden.py"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def records():
    return history.load(FIXTURES)


@pytest.fixture(scope="module")
def rendered(registry, records, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return out, report.render(registry, records, out)


@pytest.fixture
def accept(request) -> bool:
    return golden.accept_requested(bool(request.config.getoption("--accept-golden", default=False)))


def _pages() -> list[str]:
    return sorted(["index.md", *(f"{d.key}.md" for d in load_registry().datasets.values())])


def test_fixture_records_load_and_the_latest_full_run_wins(records):
    assert len(records) == 10
    latest = history.latest_by_row(records)
    aic = latest["hrnet_w32_aic_256x192/gt-bbox"]
    assert aic.date.startswith("2025-03-04") and not aic.partial  # newer --limit run and older run lose
    hhr = latest["higher_hrnet32_coco_512x512/single-scale"]
    assert hhr.data["protocol"] == "published" and not hhr.data["overrides"]
    assert len(latest) == 6


@pytest.mark.parametrize("name", _pages())
def test_page_matches_golden(rendered, name, accept):
    _, pages = rendered
    golden.check_text(GOLDEN / name, pages[name], accept=accept, how=HOW)


def test_rendered_verdicts(rendered):
    """The goldens' key facts, spelled out so that accepting a wrong page cannot go unnoticed."""
    _, pages = rendered
    index = pages["index.md"]
    assert "| `hrnet_w32_aic_256x192/gt-bbox` | [aic](aic.md) | reproduced | 0.0012 | 2025-03-04 | cuda |" in index
    assert "| cuda | 0123456789 | `8c1c95c000fa` |" in index  # the data lock's digest of the data it ran on
    assert (
        "| `hrnet_w32_macaque_256x192/gt-bbox` | [macaque](macaque.md) | drift | 0.0030 | 2025-03-04 | cpu |" in index
    )
    assert "| `higher_hrnet32_coco_512x512/single-scale` | [coco](coco.md) | failed | 0.0120 |" in index
    assert "| `hrnet_w32_aic_512x512/single-scale` | [aic](aic.md) | partial (failed) |" in index
    assert "| `hrnet_w32_horse10_256x256_split1/split1` | [horse10](horse10.md) | reproduced |" in index
    horse = pages["horse10.md"]
    assert "| NME | 0.122 | 0.1235 | +0.0015 (worse) | 0.0020 |" in horse
    assert "| NME | 0.095 | 0.0930 | -0.0020 (better) | 0.0020 |" in horse
    assert "**Partial run — not a reproduction:** custom annotation file test_aic.json" in pages["aic.md"]
    assert "(uncommitted changes)" in pages["macaque.md"]
    assert "![reproduced minus documented](coco_delta.png)" in pages["coco.md"]
    assert "![reproduced minus documented]" not in pages["atrw.md"]  # no run, no plot


def test_fresh_reports_are_not_stale(rendered):
    out, pages = rendered
    report.write(pages, out)
    assert report.stale(pages, out) == []


def test_edited_page_is_stale_and_missing_plot_is_reported(registry, records, tmp_path):
    pages = report.render(registry, records, tmp_path)
    report.write(pages, tmp_path)
    (tmp_path / "macaque.md").write_text(pages["macaque.md"].replace("drift", "reproduced"))
    (tmp_path / "horse10_delta.png").unlink()
    (tmp_path / "atrw.md").unlink()
    problems = report.stale(pages, tmp_path)
    assert problems == sorted(problems, key=problems.index)  # deterministic order: page order
    assert f"{tmp_path / 'macaque.md'} is stale" in problems
    assert f"{tmp_path / 'horse10_delta.png'} is missing" in problems
    assert f"{tmp_path / 'atrw.md'} is missing" in problems
    assert len(problems) == 3


def test_report_check_cli(tmp_path, monkeypatch, capsys, repo_root):
    """`python -m harness report --check`: 0 right after `report`, 1 naming the file after a hand edit."""
    from harness.cli import main

    readme = tmp_path / "README.md"
    shutil.copy(repo_root / "README.md", readme)
    monkeypatch.setenv("HRNET_ZOO_README", str(readme))
    out = tmp_path / "reports"
    args = ["report", "--out", str(out), "--history", str(FIXTURES)]
    assert main(args) == 0
    assert sorted(p.name for p in out.glob("*.md")) == _pages()
    capsys.readouterr()
    assert main([*args, "--check"]) == 0, capsys.readouterr().err
    fresh = capsys.readouterr().out.splitlines()  # one line saying what was checked (issue 21.7)
    assert len(fresh) == 1 and fresh[0].startswith("fresh: ") and str(out) in fresh[0] and str(readme) in fresh[0]
    page = out / "coco.md"
    page.write_text(page.read_text() + "hand edit\n")
    assert main([*args, "--check"]) == 1
    err = capsys.readouterr().err
    assert f"{page} is stale" in err and "nox -s report" in err


def test_report_from_another_history_leaves_the_checkouts_readme(tmp_path, monkeypatch, capsys, repo_root):
    """`report --history X` in a checkout renders reports/ from X but never writes the tracked README (its tables
    show results/history), and says so; `--check` does not compare it either."""
    from harness.cli import main

    monkeypatch.delenv("HRNET_ZOO_README", raising=False)
    monkeypatch.delenv("HRNET_ZOO_RESULTS", raising=False)
    before = (repo_root / "README.md").read_bytes()
    args = ["report", "--out", str(tmp_path / "reports"), "--history", str(FIXTURES)]
    assert main(args) == 0
    assert "README tables not written: --history" in capsys.readouterr().err
    assert main([*args, "--check"]) == 0
    captured = capsys.readouterr()
    assert "README tables not checked" in captured.err and "README" not in captured.out
    assert (repo_root / "README.md").read_bytes() == before
    assert main(["report", "--out", str(tmp_path / "typo"), "--history", str(tmp_path / "histroy")]) == 2
    assert "is not a folder" in capsys.readouterr().err and not (tmp_path / "typo").exists()


def test_a_fast_mode_run_is_labelled_so(registry, records):
    """A row whose only full run used --mode fast shows its verdict with "(fast mode)" (its metrics drift by design)."""
    from dataclasses import replace

    from zoo.formats.readme import render_tables
    from zoo.results.standing import standings

    rec = next(r for r in records if r.row_id == "hrnet_w32_macaque_256x192/gt-bbox")
    fast = replace(rec, identity={**rec.identity, "mode": "fast"})
    [row] = [r for r in standings(registry, [fast]) if r.run is not None]
    assert row.label == f"{row.verdict.label} (fast mode)"
    tables = render_tables(registry, reproduced=standings(registry, [fast]))
    assert f"| {row.label} |" in next(ln for ln in tables.splitlines() if ln.startswith("| `hrnet_w32_macaque"))
