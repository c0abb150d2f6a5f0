"""One settings module for every HRNET_ZOO_* variable (issue #14): declared once in zoo/settings.py, read only
through it, listed in docs/DESIGN.md, and a variable that is none of them is named instead of silently ignored."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zoo import settings
from zoo.errors import SettingError
from zoo.results import history

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"HRNET_ZOO_[A-Z0-9_]*[A-Z0-9]")
#: A read of an HRNET_ZOO_ variable that bypasses the module: os.environ.get("HRNET_ZOO_..."), os.environ["..."],
#: os.getenv("...").
DIRECT_READ = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["']HRNET_ZOO_""")
THIS = Path(__file__).resolve()
#: The typos the docs and tests use as examples of what doctor warns about (never a setting).
TYPO_EXAMPLES = {"HRNET_ZOO_OFLINE", "HRNET_ZOO_DATA_ROOT"}


def _zoo(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zoo", *argv], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", *patterns], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def test_every_variable_named_anywhere_is_declared():
    files = [f for f in _tracked("*.py", "*.md", "*.yaml", "*.toml", "*.j2") if f.resolve() != THIS and f.is_file()]
    named = {m for f in files for m in NAME.findall(f.read_text(encoding="utf-8", errors="replace"))}
    assert len(named) >= 15  # the scan sees the variables (it cannot pass by finding none)
    assert sorted(named - settings.BY_NAME.keys() - TYPO_EXAMPLES) == []
    assert not TYPO_EXAMPLES & settings.BY_NAME.keys()
    assert len(settings.BY_NAME) == len(settings.SETTINGS)  # each declared once


def test_no_module_reads_a_variable_past_the_settings_module():
    offenders = [
        f"{f.relative_to(REPO)}:{i}"
        for f in _tracked("*.py")
        if f.is_file() and f.resolve() not in (THIS, Path(settings.__file__).resolve())
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if DIRECT_READ.search(line)
    ]
    assert DIRECT_READ.search('x = os.environ.get("HRNET_ZOO_CACHE", "")')  # the pattern catches a direct read
    assert offenders == []


def test_the_design_table_is_rendered_from_the_declarations(tmp_path):
    res = _zoo("settings", "--check")
    assert res.returncode == 0, res.stderr
    design = tmp_path / "DESIGN.md"
    text = settings.DESIGN.read_text(encoding="utf-8")
    design.write_text(text.replace("| `HRNET_ZOO_CACHE` | path |", "| `HRNET_ZOO_CACHE` | folder |"), encoding="utf-8")
    assert settings.table_problems(design) and "stale" in settings.table_problems(design)[0]
    assert settings.write_table(design) and design.read_text(encoding="utf-8") == text
    for s in settings.SETTINGS:
        assert f"| `{s.name}` | {s.kind} | {s.default} |" in text


def test_accessors_read_the_environment_at_each_call(monkeypatch, tmp_path):
    monkeypatch.setenv("HRNET_ZOO_RESULTS", str(tmp_path / "r"))
    assert history.default_history_dir() == tmp_path / "r" / "history"
    monkeypatch.setenv("HRNET_ZOO_RESULTS", "")  # empty means the default, never the current folder
    assert history.default_history_dir() == settings.REPO / "results" / "history"
    monkeypatch.delenv("HRNET_ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert settings.offline_switches() == []
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", "On")
    assert settings.offline_switches() == ["HRNET_ZOO_OFFLINE"]


@pytest.mark.parametrize("value", ["0", "-1", "lots", "inf", "nan"])
def test_a_malformed_value_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", value)
    with pytest.raises(SettingError, match=f"HRNET_ZOO_MAX_DOWNLOAD_MB='{value}' is not a positive number of MiB"):
        settings.max_download_mib()
    assert settings.malformed() == [
        f"HRNET_ZOO_MAX_DOWNLOAD_MB='{value}' is not a positive number of MiB; unset it or fix it"
    ]


def test_an_unknown_variable_is_named_with_the_one_it_likely_meant():
    env = {"HRNET_ZOO_OFLINE": "1", "HRNET_ZOO_CACHE": "/x", "HRNET_ZOO_ZZZ": "1", "OTHER": "1"}
    assert settings.unknown(env) == [
        "HRNET_ZOO_OFLINE is not a setting of hrnet-zoo and is ignored; did you mean HRNET_ZOO_OFFLINE?",
        "HRNET_ZOO_ZZZ is not a setting of hrnet-zoo and is ignored; see docs/DESIGN.md for the variables",
    ]


def test_zoo_settings_shows_values_and_warns_about_a_typo():
    res = _zoo("settings", env={"HRNET_ZOO_OFLINE": "1", "HRNET_ZOO_RUNS": "/tmp/runs"})
    assert res.returncode == 0, res.stderr
    assert "HRNET_ZOO_RUNS" in res.stdout and "= /tmp/runs" in res.stdout
    assert "warning: HRNET_ZOO_OFLINE is not a setting" in res.stderr and "HRNET_ZOO_OFFLINE?" in res.stderr


@pytest.mark.parametrize("value", ["maybe", "ture", "2"])
def test_a_flag_that_is_neither_on_nor_off_is_named_not_taken_as_off(monkeypatch, value):
    monkeypatch.setenv("HRNET_ZOO_OFFLINE", value)
    with pytest.raises(SettingError, match=f"HRNET_ZOO_OFFLINE='{value}' is neither on"):
        settings.offline_switches()
    assert any(m.startswith(f"HRNET_ZOO_OFFLINE='{value}'") for m in settings.malformed())
    for off in ("0", "off", "No", " false "):
        monkeypatch.setenv("HRNET_ZOO_OFFLINE", off)
        assert settings.offline_switches() == []


# -- issue 22, case 8: the likely name, every verb warns, one rule for a value ----------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("OFLINE", "OFFLINE"),  # a letter missing
        ("DATA_ROOT", "DATA"),  # was: DATA_MIRROR (the whole names share HRNET_ZOO_DATA_)
        ("DATA_MIRRORS", "DATA_MIRROR"),
        ("DATA_MIROR", "DATA_MIRROR"),
        ("CACHE_DIR", "CACHE"),
        ("RESULT", "RESULTS"),
        ("MAX_DOWNLOAD", "MAX_DOWNLOAD_MB"),
        ("ORACLE_VENV_PATH", "ORACLE_VENV"),
        ("PREFER", "PREFER_MIRROR"),
        ("ZZZ", None),
        ("XY", None),
    ],
)
def test_the_likely_name_of_a_typo(typo, meant):
    assert settings.likely_name(f"HRNET_ZOO_{typo}") == (f"HRNET_ZOO_{meant}" if meant else None)


def test_the_data_root_typo_is_not_taken_for_the_mirror():
    assert settings.unknown({"HRNET_ZOO_DATA_ROOT": "/data"}) == [
        "HRNET_ZOO_DATA_ROOT is not a setting of hrnet-zoo and is ignored; did you mean HRNET_ZOO_DATA?"
    ]


@pytest.mark.parametrize("value", ["ftp://mirror.example.org/data", "mirror.example.org/data", "s3://bucket/data",
                                   "hf://datasets/owner", "https://m.example.org/d, file:///srv/data"])  # fmt: skip
def test_a_data_mirror_that_fetch_refuses_is_malformed(monkeypatch, value):
    monkeypatch.setenv("HRNET_ZOO_DATA_MIRROR", value)
    with pytest.raises(SettingError, match=r"HRNET_ZOO_DATA_MIRROR entry '.*' is neither an http\(s\) URL prefix"):
        settings.data_mirrors()
    assert [(s.name, m) for s, m in settings.malformed_settings()] == [
        ("HRNET_ZOO_DATA_MIRROR", m) for m in settings.malformed() if m.startswith("HRNET_ZOO_DATA_MIRROR")
    ]
    assert any(m.startswith("HRNET_ZOO_DATA_MIRROR entry") for m in settings.malformed())


def test_data_mirrors_that_fetch_accepts(monkeypatch):
    monkeypatch.setenv("HRNET_ZOO_DATA_MIRROR", " https://m.example.org/d/ ,http://10.0.0.1/x,hf://datasets/o/r@v1,")
    assert settings.data_mirrors() == ["https://m.example.org/d", "http://10.0.0.1/x", "hf://datasets/o/r@v1"]
    assert settings.malformed() == []


@pytest.mark.parametrize(
    "argv",
    [["list"], ["show", "hrnet_w32_aic_256x192"], ["settings"], ["show", "no_such_entry"]],
    ids=["list", "show", "settings", "an-error"],
)
def test_every_zoo_verb_warns_once_about_an_unknown_variable(monkeypatch, capsys, argv):
    from zoo.cli import main

    monkeypatch.setenv("HRNET_ZOO_OFLINE", "1")
    main(argv)
    err = capsys.readouterr().err
    assert err.count("warning: HRNET_ZOO_OFLINE is not a setting of hrnet-zoo") == 1, err
    assert "did you mean HRNET_ZOO_OFFLINE?" in err


@pytest.mark.parametrize(
    "argv",
    [["data", "list"], ["report", "--check"], ["score", "no_such_entry", "--predictions", "p", "--ann-file", "a"]],
    ids=["data-list", "report-check", "an-error"],
)
def test_every_harness_verb_warns_once_about_an_unknown_variable(monkeypatch, capsys, tmp_path, argv):
    from harness.cli import main

    monkeypatch.setenv("HRNET_ZOO_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("HRNET_ZOO_DATA_ROOT", str(tmp_path))
    main(argv)
    err = capsys.readouterr().err
    assert err.count("warning: HRNET_ZOO_DATA_ROOT is not a setting") == 1, err
    assert "did you mean HRNET_ZOO_DATA?" in err


def test_a_malformed_value_stays_an_error_of_the_verb(monkeypatch, capsys, tmp_path):
    from harness.cli import main

    monkeypatch.setenv("HRNET_ZOO_DATA_MIRROR", "ftp://mirror.example.org/data")
    assert main(["data", "fetch", "atrw", "--data-root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error: HRNET_ZOO_DATA_MIRROR entry 'ftp://mirror.example.org/data' is neither" in err, err
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".")]  # nothing fetched
