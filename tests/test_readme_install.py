"""The README's install block is executable truth (issue #21). The block between README's install markers
(tests/helpers/readme_block.py) runs line by line, as written, in a fresh `python -m venv` of the Python running
this test, with the pip and setuptools that venv comes with and the checkout as the working directory. Nothing is
added to it: a line that fails fails the test. Then `doctor`, and `score` on the COCO sample with the evaluator of
record, whose numbers must equal this environment's (uv-built xtcocotools) bit for bit. Last, the path of a user who
skipped the first two lines (issue #16): PyPI's numpy-1 xtcocotools wheel, whose first use must stop with one line
naming the rebuild command, and that command, run as given, must give the same numbers again.

The venv tests take minutes and a few GB of downloads, so they run only when HRNET_ZOO_PIP_INSTALL=1:
`nox -s readme-install-3.10` (CI, the oldest supported Python), `nox -s readme-install-3.12` (the newest).
The block's form is checked on every run of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.predictions import jittered_predictions
from tests.helpers.readme_block import install_commands
from zoo import settings

REPO = Path(__file__).resolve().parents[1]
ENTRY = "hrnet_w32_coco_256x192_coarsedropout"
#: xtcocotools 1.14.3's PyPI wheels stop at cp311; on 3.12 a plain install builds the sdist (and stops earlier).
PYPI_WHEEL = sys.version_info < (3, 12)

needs_venv = pytest.mark.skipif(
    not settings.flag(settings.PIP_INSTALL), reason="builds a venv with pip (minutes): nox -s readme-install-3.10"
)


# -- the block's form (fast, always) ------------------------------------------------------------------------------


def test_the_readme_has_one_install_block_that_installs_the_harness():
    commands = install_commands((REPO / "README.md").read_text())
    assert any(c.startswith("pip install -e '.[harness]'") for c in commands), commands
    assert all(c.startswith(("pip ", "python ")) for c in commands), commands  # commands, not prose or prompts


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("```bash\npip install x\n```\n", "found 0 start and 0 end"),
        ("<!-- install:start -->\n```bash\npip install x\n```\n", "found 1 start and 0 end"),
        ("<!-- install:start -->\npip install x\n<!-- install:end -->\n", "found 0 fence"),
        ("<!-- install:start -->\n```python\nimport x\n```\n<!-- install:end -->\n", "the first '```python'"),
        ("<!-- install:start -->\n```bash\n# only a comment\n```\n<!-- install:end -->\n", "holds no command"),
    ],
)
def test_an_unreadable_install_block_is_an_error_not_an_empty_list(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        install_commands(text)


def test_block_lines_are_commands_with_continuations_joined():
    text = (
        "<!-- install:start x -->\n\n```sh\n# why\npip install a \\\n  b\n\npython -m m  # note\n```\n"
        "<!-- install:end -->"
    )
    assert install_commands(text) == ["pip install a    b", "python -m m  # note"]


# -- the block, run (minutes, HRNET_ZOO_PIP_INSTALL=1) ------------------------------------------------------------


@dataclass(frozen=True)
class Venv:
    root: Path
    env: dict[str, str]

    def sh(self, command: str, *, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        """`command` through bash in this venv as if activated; check: fail naming it and its output's tail."""
        res = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=cwd, env=self.env,
                             capture_output=True, text=True, timeout=3600)  # fmt: skip
        if check and res.returncode != 0:
            pytest.fail(f"`{command}` exited {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res


def _activated(venv: Path, cache: Path) -> dict[str, str]:
    """The caller's environment as `source venv/bin/activate` leaves it, less what would leak this test's own
    environment into it (its venv on PATH, PYTHONPATH, HRNET_ZOO_* settings); checkpoints cache in tmp."""
    outer = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not (outer and p == f"{outer}/bin")]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME") and "HRNET_ZOO_" not in k}
    env.update(VIRTUAL_ENV=str(venv), PATH=os.pathsep.join([str(venv / "bin"), *path]))
    env["HRNET_ZOO_CACHE"] = str(cache)
    return env


@pytest.fixture(scope="module")
def readme_venv(tmp_path_factory) -> Venv:
    """A fresh venv of this Python in which README's install block ran, every line as written, from the checkout."""
    root = tmp_path_factory.mktemp("readme-install")
    base = getattr(sys, "_base_executable", sys.executable)  # the interpreter behind nox's venv
    subprocess.run([base, "-m", "venv", str(root / "venv")], check=True, timeout=600)
    venv = Venv(root, _activated(root / "venv", root / "cache"))
    for n, command in enumerate(install_commands((REPO / "README.md").read_text()), 1):
        res = venv.sh(command, cwd=REPO, check=False)
        if res.returncode != 0:
            pytest.fail(f"README install line {n} exited {res.returncode}: {command}\n"
                        f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")  # fmt: skip
    return venv


def _score_argv(preds: Path, ann: Path) -> str:
    return f"python -m harness score {ENTRY} --predictions {preds} --ann-file {ann} --scoring library"


@pytest.fixture(scope="module")
def sample(readme_venv, samples_dir) -> tuple[Path, Path, dict]:
    """(predictions, annotations, what this environment scores them): the numbers every venv score must equal."""
    from harness.metrics.evaluators import score
    from zoo import load_registry

    ann = samples_dir / "coco" / "test_coco.json"
    preds = readme_venv.root / "p.json"
    preds.write_text(json.dumps(jittered_predictions(ann)))
    registry = load_registry()
    (row,) = registry.entry(ENTRY).results
    evaluator = row.protocol.evaluator
    want = score(preds, evaluator=evaluator, gt=ann, schema=registry.schemas["coco"],
                 sigmas=registry.schemas[evaluator.sigmas].sigmas)  # fmt: skip
    return preds, ann, want


def _assert_scores_of_record(stdout: str, want: dict) -> None:
    got = json.loads(stdout)
    assert got["scoring"]["backend"] == "library" and got["evaluator"]["library"] == "xtcocotools"
    assert got["metrics"] == want["metrics"] and got["extra_metrics"] == want["extra_metrics"]
    assert got["metrics"]["AP"] > 0


@needs_venv
def test_the_readme_block_leaves_no_blocker(readme_venv):
    res = readme_venv.sh(f"python -m harness doctor --data-root {readme_venv.root / 'no-data'}", cwd=readme_venv.root,
                         check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert sys.version.split()[0] in res.stdout  # the venv is of the Python under test
    assert any(line.startswith("ok    xtcocotools") for line in res.stdout.splitlines()), res.stdout


@needs_venv
def test_the_readme_block_scores_with_the_evaluator_of_record(readme_venv, sample):
    preds, ann, want = sample
    _assert_scores_of_record(readme_venv.sh(_score_argv(preds, ann), cwd=readme_venv.root).stdout, want)


@needs_venv
@pytest.mark.skipif(not PYPI_WHEEL, reason="xtcocotools has no PyPI wheel for this Python")
def test_a_pypi_wheel_stops_at_first_use_with_a_rebuild_that_works(readme_venv, sample):
    """After the README's block, as after a plain `pip install -e '.[harness]'` (both leave numpy 2, Cython and a
    setuptools that builds wheels: xtcocotools requires the latter two), PyPI's numpy-1 wheel put back."""
    preds, ann, want = sample
    version = readme_venv.sh("python -c \"from importlib.metadata import version; print(version('xtcocotools'))\"",
                             cwd=readme_venv.root).stdout.strip()  # fmt: skip
    readme_venv.sh("pip install -q --force-reinstall --no-deps --only-binary xtcocotools --no-cache-dir "
                   f"xtcocotools=={version}", cwd=readme_venv.root)  # fmt: skip

    # PyPI's xtcocotools 1.14.3 wheel is a numpy-1 build. (Should a release ship numpy-2 wheels, this fails: then
    # drop the rebuild line from the README and this test.)
    first = readme_venv.sh(_score_argv(preds, ann), cwd=readme_venv.root, check=False)
    assert first.returncode == 2 and "Traceback" not in first.stderr, first.stdout + first.stderr
    (line,) = first.stderr.splitlines()
    assert "built for another numpy" in line, line
    doctor = readme_venv.sh("python -m harness doctor", cwd=readme_venv.root, check=False)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    readme_venv.sh(line.rsplit("(needs a C compiler): ", 1)[1], cwd=readme_venv.root)  # exactly as the line says

    _assert_scores_of_record(readme_venv.sh(_score_argv(preds, ann), cwd=readme_venv.root).stdout, want)
