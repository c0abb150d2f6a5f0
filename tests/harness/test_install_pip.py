"""The plain-pip path a Python user takes (issue #16), in a fresh venv: `pip install -e '.[harness]'` with PyPI's
xtcocotools wheel, a first use that stops with one message naming the rebuild command, that very command, then
`doctor` and `score` with the evaluator of record, whose numbers must equal this environment's bit for bit.

Minutes and a few GB of downloads, so it runs only when HRNET_ZOO_PIP_INSTALL=1 (`nox -s install-pip`, CI).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.metrics import score
from tests.helpers.predictions import jittered_predictions
from zoo import settings

REPO = Path(__file__).resolve().parents[2]
ENTRY = "hrnet_w32_coco_256x192_coarsedropout"

pytestmark = pytest.mark.skipif(
    not settings.flag(settings.PIP_INSTALL), reason="builds a venv with pip (minutes): nox -s install-pip"
)


def _sh(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kw)
    if check and res.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def test_plain_pip_install_scores_with_the_evaluator_of_record(tmp_path, samples_dir):
    base = getattr(sys, "_base_executable", sys.executable)
    _sh(base, "-m", "venv", str(tmp_path / "venv"))
    py = str(tmp_path / "venv" / "bin" / "python")
    _sh(py, "-m", "pip", "install", "-q", "-e", f"{REPO}[harness]")
    # A new user gets PyPI's wheel; this machine's pip cache may hold one that an earlier run of this test built.
    version = _sh(py, "-c", "from importlib.metadata import version; print(version('xtcocotools'))").stdout.strip()
    _sh(py, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", "--only-binary", "xtcocotools",
        "--no-cache-dir", f"xtcocotools=={version}")  # fmt: skip

    ann = samples_dir / "coco" / "test_coco.json"
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(jittered_predictions(ann)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HRNET_ZOO_CACHE"] = str(tmp_path / "cache")
    argv = (
        py,
        "-m",
        "harness",
        "score",
        ENTRY,
        "--predictions",
        str(preds),
        "--ann-file",
        str(ann),
        "--scoring",
        "library",
    )

    # PyPI's xtcocotools 1.14.3 wheel is a numpy-1 build: the first use stops with one line naming the command that
    # fixes it. (Should a release ship numpy-2 wheels, this fails: then drop the rebuild line from the README.)
    first = _sh(*argv, check=False, env=env, cwd=tmp_path)
    assert first.returncode == 2 and "Traceback" not in first.stderr, first.stdout + first.stderr
    (line,) = first.stderr.splitlines()
    assert "built for another numpy" in line, line
    fix = line.rsplit("(needs a C compiler): ", 1)[1]
    assert _sh(py, "-m", "harness", "doctor", check=False, env=env, cwd=tmp_path).returncode == 1
    assert fix.startswith(f"{py} -m pip install ")  # this venv's own pip, never whichever `pip` is on PATH
    _sh(*shlex.split(fix), env=env, cwd=tmp_path)  # the command exactly as the message gives it

    doctor = _sh(py, "-m", "harness", "doctor", "--data-root", str(tmp_path), check=False, env=env, cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    got = json.loads(_sh(*argv, env=env, cwd=tmp_path).stdout)

    # The same file scored here, where uv built xtcocotools from source: identical numbers, bit for bit.
    from zoo import load_registry

    registry = load_registry()
    (row,) = registry.entry(ENTRY).results
    evaluator = row.protocol.evaluator
    want = score(preds, evaluator=evaluator, gt=ann, schema=registry.schemas["coco"],
                 sigmas=registry.schemas[evaluator.sigmas].sigmas)  # fmt: skip
    assert got["scoring"]["backend"] == "library" and got["evaluator"]["library"] == "xtcocotools"
    assert got["metrics"] == want["metrics"] and got["extra_metrics"] == want["extra_metrics"]
    assert got["metrics"]["AP"] > 0
