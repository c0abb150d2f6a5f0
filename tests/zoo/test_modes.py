"""The two modes of zoo/settings.py (issue #21): a checkout keeps the repository's own paths; an installed package
reads the registry it carries, keeps history, runs and reports in one user folder, and writes README tables and
exports only where it is told. The HRNET_ZOO_* variables win in both. (The real wheel: tests/test_wheel.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import results
from zoo import cli, settings
from zoo.formats import generated, readme

REPO = Path(__file__).resolve().parents[2]
PATHS = ("HRNET_ZOO_HOME", "HRNET_ZOO_REGISTRY", "HRNET_ZOO_README", "HRNET_ZOO_RESULTS", "HRNET_ZOO_EXPORTS",
         "HRNET_ZOO_REPORTS", "HRNET_ZOO_RUNS")  # fmt: skip


@pytest.fixture
def clean(monkeypatch):
    for name in PATHS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def installed(monkeypatch, tmp_path, clean):
    """This package as if it sat in site-packages: no zoo.yaml and pyproject.toml beside it."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(settings, "REPO", site)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


def test_a_checkout_keeps_the_repositorys_paths(clean):
    assert settings.in_checkout() and settings.mode() == "checkout"
    assert settings.registry_file() == REPO / "zoo.yaml" == settings.DEFAULT_REGISTRY
    assert settings.readme_file() == REPO / "README.md"
    assert settings.results_dir() == REPO / "results"
    assert settings.reports_dir() == REPO / "reports"
    assert settings.exports_dir() == REPO / "exports"
    assert settings.runs_dir() == Path("runs")


def test_installed_paths_go_to_the_user_folder_and_the_shipped_registry(installed, monkeypatch):
    assert not settings.in_checkout() and settings.mode() == "installed"
    home = installed / "xdg-data" / "hrnet-zoo"  # platformdirs' user data folder follows XDG_DATA_HOME
    assert settings.home() == home
    assert settings.registry_file() == settings.SHIPPED / "zoo.yaml"
    assert settings.results_dir() == home / "results"
    assert settings.reports_dir() == home / "reports"
    assert settings.runs_dir() == home / "runs"
    assert settings.readme_file() is None and settings.exports_dir() is None
    assert generated.default_exports_dir() is None and readme.default_readme() is None
    monkeypatch.setenv("HRNET_ZOO_HOME", str(installed / "mine"))
    assert settings.results_dir() == installed / "mine" / "results"


def test_the_variables_win_in_both_modes(installed, monkeypatch):
    for name in PATHS[1:]:
        monkeypatch.setenv(name, str(installed / name.lower()))
    assert settings.registry_file() == installed / "hrnet_zoo_registry"
    assert settings.readme_file() == installed / "hrnet_zoo_readme"
    assert settings.results_dir() == installed / "hrnet_zoo_results"
    assert settings.exports_dir() == installed / "hrnet_zoo_exports"
    assert settings.reports_dir() == installed / "hrnet_zoo_reports"
    assert settings.runs_dir() == installed / "hrnet_zoo_runs"


def test_installed_check_checks_the_registry_and_readme_asks_for_a_path(installed, monkeypatch, capsys):
    (installed / "README.md").write_text("a README the user happens to stand next to\n")
    monkeypatch.chdir(installed)
    assert cli.main(["--registry", str(REPO / "zoo.yaml"), "check"]) == 0
    assert "no README checked (installed package" in capsys.readouterr().out
    assert cli.main(["--registry", str(REPO / "zoo.yaml"), "readme"]) == 2
    err = capsys.readouterr().err
    assert "pass --readme PATH or set HRNET_ZOO_README" in err and "Traceback" not in err
    assert (installed / "README.md").read_text() == "a README the user happens to stand next to\n"
    # Named explicitly, a README is checked as in a checkout (against the history its tables were made from).
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(REPO / "results"))
    assert cli.main(["--registry", str(REPO / "zoo.yaml"), "check", "--readme", str(REPO / "README.md")]) == 0
    assert "README tables up to date" in capsys.readouterr().out


def test_installed_settings_table_verbs_name_the_checkout(installed, monkeypatch, capsys):
    monkeypatch.setattr(settings, "DESIGN", installed / "site-packages" / "docs" / "DESIGN.md")
    monkeypatch.setattr(settings.table_problems, "__defaults__", (settings.DESIGN,))
    assert cli.main(["settings", "--check"]) == 2
    assert "the settings table lives in a checkout's docs/DESIGN.md" in capsys.readouterr().err
    assert cli.main(["settings"]) == 0
    assert "mode: installed (user folder" in capsys.readouterr().out


def test_an_installed_run_records_no_git_state_of_whatever_tree_holds_site_packages(installed):
    assert results.git_state() == {"sha": None, "dirty": None}


def test_a_checkout_writes_its_readme_only_from_its_own_history(clean, monkeypatch, tmp_path, capsys):
    """The tracked README shows results/history: a history elsewhere (HRNET_ZOO_RESULTS) never rewrites it, and says
    why; naming a README (HRNET_ZOO_README) writes that one."""
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(REPO / "results"))  # the checkout's own, spelled out
    assert settings.readme_file() == REPO / "README.md" and settings.readme_skipped() is None
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(tmp_path / "results"))
    assert settings.readme_file() is None and "HRNET_ZOO_RESULTS" in settings.readme_skipped()
    before = (REPO / "README.md").read_bytes()
    assert cli.main(["readme"]) == 2
    err = capsys.readouterr().err
    assert "no default README: the history is HRNET_ZOO_RESULTS=" in err and "--readme PATH" in err
    assert cli.main(["check"]) == 0
    assert "no README checked (the history is HRNET_ZOO_RESULTS=" in capsys.readouterr().out
    assert (REPO / "README.md").read_bytes() == before
    monkeypatch.setenv("HRNET_ZOO_README", str(tmp_path / "README.md"))
    assert settings.readme_file() == tmp_path / "README.md" and settings.readme_skipped() is None
