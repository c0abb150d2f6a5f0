"""`hrnet-zoo`, the console script (harness/console.py): every verb of both CLIs, `--version` from the installed
metadata, shell completion from shtab, and a registry verb that imports no torch."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from harness import cli as harness_cli
from harness import console
from zoo import cli as zoo_cli

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm", "cv2", "numpy")


def _console(*argv: str, importtime: bool = False) -> subprocess.CompletedProcess:
    code = "import sys; from harness.console import main; sys.exit(main())"
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-c", code, *argv], cwd=REPO, capture_output=True, text=True, timeout=180
    )


def test_the_verb_names_of_the_two_clis_are_their_modules_and_do_not_collide():
    scratch = argparse.ArgumentParser().add_subparsers()
    harness_cli.add_verbs(scratch)
    assert set(scratch.choices) == set(harness_cli.VERBS)  # each verb module registers its own name
    # No shared name today; should one appear, the registry's wins (routed first) and the help lists it once.
    assert console.zoo_verbs() & set(harness_cli.VERBS) == set()
    full = console.build_parser()
    verbs = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(verbs) == console.zoo_verbs() | set(harness_cli.VERBS) | {"zoo", "harness"}


def test_each_verb_goes_to_its_cli_with_the_console_name(monkeypatch):
    calls = []
    monkeypatch.setattr(zoo_cli, "main", lambda argv, prog: calls.append(("zoo", argv, prog)) or 0)
    monkeypatch.setattr(harness_cli, "main", lambda argv, prog: calls.append(("harness", argv, prog)) or 0)
    assert console.main(["list", "*w32*"]) == 0
    assert console.main(["--registry", "r.yaml", "check"]) == 0
    assert console.main(["--registry=r.yaml", "zoo", "show", "x"]) == 0
    assert console.main(["score", "--help"]) == 0
    assert console.main(["harness", "doctor"]) == 0
    assert calls == [
        ("zoo", ["list", "*w32*"], "hrnet-zoo"),
        ("zoo", ["--registry", "r.yaml", "check"], "hrnet-zoo"),
        ("zoo", ["--registry=r.yaml", "show", "x"], "hrnet-zoo zoo"),
        ("harness", ["score", "--help"], "hrnet-zoo"),
        ("harness", ["doctor"], "hrnet-zoo harness"),
    ]


def test_registry_before_a_harness_verb_names_the_variable_instead(capsys):
    assert console.main(["--registry", "r.yaml", "reproduce", "--dataset", "demo"]) == 2
    assert "set HRNET_ZOO_REGISTRY" in capsys.readouterr().err


def test_version_help_and_an_unknown_verb(capsys):
    with pytest.raises(SystemExit) as exc:
        console.main(["--version"])
    assert exc.value.code == 0
    want = metadata.version("hrnet-zoo")
    assert capsys.readouterr().out.strip() == f"hrnet-zoo {want}"
    with pytest.raises(SystemExit) as exc:
        console.main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "reproduce" in out and "list" in out and "hrnet-zoo zoo VERB" in out
    with pytest.raises(SystemExit) as exc:
        console.main(["lst"])
    assert exc.value.code == 2 and "invalid choice: 'lst'" in capsys.readouterr().err


@pytest.mark.parametrize("cli", [zoo_cli, harness_cli])
def test_both_module_clis_have_version_too(cli, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"hrnet-zoo {metadata.version('hrnet-zoo')}"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_covers_both_clis_and_their_options(shell, capsys):
    with pytest.raises(SystemExit) as exc:
        console.main(["--print-completion", shell])
    script = capsys.readouterr().out
    assert exc.value.code == 0 and "hrnet-zoo" in script
    for word in ("list", "reproduce", "doctor", "--dataset", "--predictions", "--registry"):
        assert word in script, word


def test_a_registry_verb_imports_no_torch_and_runs():
    res = _console("list", "*demo*", importtime=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "hrnet_w8_demo_128x96" in res.stdout
    modules = {ln.rsplit("|", 1)[1].strip() for ln in res.stderr.splitlines() if ln.startswith("import time:")}
    assert "zoo.cli" in modules  # the probe sees the CLI's imports
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    assert not any(m.startswith("harness.commands") for m in modules)  # no harness verb module either


def test_a_harness_verb_without_the_harness_extra_names_the_install(monkeypatch, capsys):
    def missing(argv, prog):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(harness_cli, "main", missing)
    assert console.main(["evaluate", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `hrnet-zoo evaluate` needs the harness's dependencies (torch is not installed)")
    assert "hrnet-zoo[harness]" in err and "Traceback" not in err
