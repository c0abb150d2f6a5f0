"""`python -m harness doctor` and the install check, fed broken and known-bad environments (issue #16).

A stub package first on PYTHONPATH stands in for what a user's environment holds: an xtcocotools whose compiled part
was built for numpy 1 (it raises what the real PyPI wheel raises under numpy 2), or distribution metadata of a
known-bad version. The real CLI runs in a subprocess, as the user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from harness.environment import KNOWN_BAD, import_coco_api, known_bad, rebuild_command
from harness.errors import InstallError
from tests.helpers.predictions import jittered_predictions

REPO = Path(__file__).resolve().parents[2]
#: What importing xtcocotools 1.14.3's PyPI wheel raises under numpy 2 (seen in a fresh pip venv, numpy 2.4.6).
NUMPY1_BUILD = (
    "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject"
)


def _numpy1_xtcocotools(root: Path) -> Path:
    pkg = root / "xtcocotools"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_mask.py").write_text(f"raise ValueError({NUMPY1_BUILD!r})\n")
    (pkg / "mask.py").write_text("from xtcocotools import _mask\n")
    (pkg / "coco.py").write_text("from xtcocotools import mask\n")
    (pkg / "cocoeval.py").write_text("from xtcocotools import mask\n")
    return root


def _dist_info(root: Path, name: str, version: str) -> Path:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def _run(*argv: str, pythonpath: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{REPO}", "HRNET_ZOO_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "harness", *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def _line(stdout: str, name: str) -> str:
    found = [ln for ln in stdout.splitlines() if ln.split()[1:2] == [name]]
    assert len(found) == 1, stdout
    return found[0]


def test_score_with_a_numpy1_build_stops_with_the_rebuild_command(tmp_path, samples_dir):
    ann = samples_dir / "coco" / "test_coco.json"
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(jittered_predictions(ann)))
    args = ("score", "hrnet_w32_coco_256x192_coarsedropout", "--predictions", str(preds), "--ann-file", str(ann))
    res = _run(*args, "--scoring", "library", pythonpath=_numpy1_xtcocotools(tmp_path / "stub"), tmp_path=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith("error: xtcocotools ") and "built for another numpy" in line
    # The subprocess runs this interpreter, so its environment's own pip (pip, uv or pipx) is the one named here.
    assert line.endswith(rebuild_command(metadata.version("xtcocotools")))


@pytest.mark.slow
def test_doctor_names_a_numpy1_build_as_a_blocker(tmp_path):
    res = _run("doctor", pythonpath=_numpy1_xtcocotools(tmp_path / "stub"), tmp_path=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    line = _line(res.stdout, "xtcocotools")
    assert line.startswith("FAIL") and "built for another numpy" in line and "--no-binary xtcocotools" in line
    assert _line(res.stdout, "pycocotools").startswith("ok")  # the other checks still ran
    assert _line(res.stdout, "torch").startswith("ok")
    assert res.stdout.rstrip().endswith("1 blocker(s), 0 warning(s): fix the FAIL lines before a run of record.")


@pytest.mark.slow
def test_doctor_names_known_bad_versions_with_their_effect(tmp_path):
    stub = _dist_info(tmp_path / "stub", "xtcocotools", "1.10.0")
    _dist_info(stub, "opencv-python-headless", "5.0.0")
    res = _run("doctor", pythonpath=stub, tmp_path=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
    xt = _line(res.stdout, "xtcocotools")
    assert xt.startswith("FAIL") and "1.10.0 is known bad: computes APm/APl ~3 points low" in xt
    cv = _line(res.stdout, "opencv")
    assert cv.startswith("FAIL") and "opencv-python-headless 5.0.0 is known bad" in cv and "18.5%" in cv


def test_doctor_passes_on_the_development_environment(tmp_path):
    """The uv-built environment (xtcocotools compiled against the installed numpy) has no blocker."""
    res = _run("doctor", "--data-root", str(tmp_path / "no-data"), pythonpath=tmp_path, tmp_path=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _line(res.stdout, "xtcocotools").startswith("ok    xtcocotools   ")
    assert "complete: none" in _line(res.stdout, "data")
    # Fast mode's bf16 is named slow exactly where this CPU emulates it (an AVX2 host: 0.2x of exact, PERFORMANCE.md).
    from harness.runtime import native_cpu_bf16

    emulated = native_cpu_bf16() is False
    assert ("fast mode" in res.stdout and "--mode tuned" in res.stdout) == emulated, res.stdout


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ({"xtcocotools": "1.14.3", "opencv-python-headless": "4.11.0.86"}, []),
        ({"xtcocotools": "1.11"}, [("xtcocotools", "1.11")]),
        ({"xtcocotools": "1.9"}, [("xtcocotools", "1.9")]),
        ({"xtcocotools": "1.12"}, []),
        ({"xtcocotools": "1.7.5"}, [("xtcocotools", "1.7.5")]),
        ({"opencv-python": "5.0.0a1"}, [("opencv-python", "5.0.0a1")]),
        ({"opencv-python-headless": "not-a-version"}, []),
    ],
)
def test_known_bad_ranges(versions, expected):
    assert [(rule.package, v) for rule, v in known_bad(versions)] == expected


def test_every_known_bad_rule_says_what_to_do():
    for rule in KNOWN_BAD:
        assert rule.effect and rule.fix.startswith("pip ")


def test_a_missing_library_is_an_install_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycocotools", None)  # import of it raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "pycocotools.coco", raising=False)
    with pytest.raises(InstallError, match=r"pycocotools is not installed.*pip install -e '\.\[harness\]'"):
        import_coco_api("pycocotools")


@pytest.mark.slow
def test_doctor_warns_about_an_unknown_or_malformed_setting(tmp_path, monkeypatch):
    """A typo in a variable name is ignored by every verb (each warns on stderr; HRNET_ZOO_OFLINE=1 would run
    online); a malformed value stops the verbs that read it, so doctor calls it a blocker (issue 22: it said ready)."""
    monkeypatch.setenv("HRNET_ZOO_OFLINE", "1")
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "lots")
    res = _run("doctor", pythonpath=tmp_path, tmp_path=tmp_path)
    assert "Traceback" not in res.stdout + res.stderr
    assert res.returncode == 1 and "ready." not in res.stdout
    warnings = [ln for ln in res.stdout.splitlines() if ln.split()[:2] == ["warn", "settings"]]
    assert len(warnings) == 1, res.stdout
    assert "HRNET_ZOO_OFLINE is not a setting" in warnings[0] and "did you mean HRNET_ZOO_OFFLINE?" in warnings[0]
    assert "HRNET_ZOO_OFLINE" not in res.stderr  # listed once, among doctor's lines
    blockers = [ln for ln in res.stdout.splitlines() if ln.split()[:2] == ["FAIL", "settings"]]
    assert len(blockers) == 1 and "HRNET_ZOO_MAX_DOWNLOAD_MB='lots' is not a positive number of MiB" in blockers[0]
    monkeypatch.delenv("HRNET_ZOO_OFLINE")
    monkeypatch.delenv("HRNET_ZOO_MAX_DOWNLOAD_MB")
    line = _line(_run("doctor", pythonpath=tmp_path, tmp_path=tmp_path).stdout, "settings")
    assert line.startswith("ok") and f"HRNET_ZOO_CACHE={tmp_path / 'cache'}" in line


@pytest.mark.slow
def test_doctor_json_parses_and_counts_a_torch_hub_copy(tmp_path, monkeypatch):
    """--json: one object with every check; a published file in torch.hub's folder is counted (issue 21.6, 21.7)."""
    from zoo import load_registry

    entry = next(iter(load_registry().entries.values()))
    folder = tmp_path / "torch-home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / entry.checkpoint.filename).write_bytes(b"found by name; fetch verifies it")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    res = _run("doctor", "--json", "--data-root", str(tmp_path / "no-data"), pythonpath=tmp_path, tmp_path=tmp_path)
    doc = json.loads(res.stdout)
    assert res.returncode == (1 if doc["blockers"] else 0), res.stderr
    assert doc["ready"] is (doc["blockers"] == 0)
    names = [c["name"] for c in doc["checks"]]
    assert {"python", "settings", "xtcocotools", "checkpoints", "data", "torch"} <= set(names)
    assert all(c["status"] in ("ok", "note", "warn", "FAIL") and c["text"] for c in doc["checks"])
    assert doc["warnings"] == sum(c["status"] == "warn" for c in doc["checks"])
    [ckpt] = [c for c in doc["checks"] if c["name"] == "checkpoints"]
    assert f"1 more in torch.hub's {folder}" in ckpt["text"]


def test_doctor_refuses_a_data_mirror_as_data_fetch_does(tmp_path, monkeypatch):
    """One rule (zoo.settings.data_mirrors): doctor said "ready" for ftp://, and then `data fetch` refused it."""
    monkeypatch.setenv("HRNET_ZOO_DATA_MIRROR", "ftp://mirror.example.org/data")
    fetch = _run("data", "fetch", "atrw", "--data-root", str(tmp_path / "data"), pythonpath=tmp_path, tmp_path=tmp_path)
    refusal = "HRNET_ZOO_DATA_MIRROR entry 'ftp://mirror.example.org/data' is neither an http(s) URL prefix"
    assert fetch.returncode == 2 and f"error: {refusal}" in fetch.stderr, fetch.stderr
    res = _run("doctor", "--data-root", str(tmp_path / "data"), pythonpath=tmp_path, tmp_path=tmp_path)
    assert res.returncode == 1 and "ready." not in res.stdout, res.stdout
    line = _line(res.stdout, "settings")
    assert line.startswith("FAIL") and refusal in line
    assert line.split(None, 2)[2] == fetch.stderr.strip().removeprefix("error: ")  # the same words


def _without_pyyaml(root: Path) -> Path:
    """A `yaml` module first on the path that fails as an absent PyYAML does."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "yaml.py").write_text("raise ModuleNotFoundError(\"No module named 'yaml'\", name='yaml')\n")
    return root


INSTALL_PYYAML = "the pyyaml package (module 'yaml') cannot be imported (No module named 'yaml'); every verb needs it. "


@pytest.mark.slow
def test_doctor_without_pyyaml_names_the_package_and_the_install_command(tmp_path):
    res = _run("doctor", pythonpath=_without_pyyaml(tmp_path / "no-yaml"), tmp_path=tmp_path)
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    assert res.returncode == 1
    line = _line(res.stdout, "registry")
    assert line.startswith("FAIL") and INSTALL_PYYAML in line and "pip install 'pyyaml>=6'" in line
    assert _line(res.stdout, "python").startswith("ok")  # the rest of the report is still there


@pytest.mark.parametrize("argv", [("score", "x", "--predictions", "p", "--ann-file", "a"), ("data", "list")])
def test_any_harness_verb_without_pyyaml_is_one_line(tmp_path, argv):
    res = _run(*argv, pythonpath=_without_pyyaml(tmp_path / "no-yaml"), tmp_path=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith(f"error: {INSTALL_PYYAML}") and res.stderr.count("\n") == 1, res.stderr
