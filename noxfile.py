"""One session per user verb. `nox -l` lists them; each docstring is its help text.

Extra arguments pass through after `--`, e.g. `nox -s tests -- -k registry` or
`nox -s reproduce-aic -- --device cpu --limit 100`.
"""

from __future__ import annotations

import os
import subprocess

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

HARNESS = ".[harness,test]"
#: Generated exports (`nox -s export`) and the `python -m zoo export` format that writes each folder.
EXPORTS = {"exports/model-index": "model-index", "exports/hf-cards": "hf-cards"}

#: The oldest and newest Pythons the project supports (pyproject's requires-python; why not 3.13 is said there).
PYTHON_RANGE = ["3.10", "3.12"]
#: The fast part of the suite, run on each of PYTHON_RANGE: the registry, the scorers of record and the CLI's first
#: contact (what a Python version changes: parsing, packaging, compiled extensions), without the slow-marked tests.
FAST_PATHS = ["tests/zoo", "tests/harness/metrics", "tests/harness/test_imports.py", "tests/harness/test_doctor.py"]
FAST_MARKERS = "not slow and not oracle and not cuda"


def _pyenv_versions() -> None:
    """pyenv's shims answer only for its active versions (nox started through a shim has PYENV_VERSION set to one):
    make every installed one findable as pythonX.Y, after those already active."""
    try:
        out = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return  # no pyenv: pythonX.Y come from PATH as they are
    active = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v]
    os.environ["PYENV_VERSION"] = ":".join(active + [v for v in out.split() if v not in active])


_pyenv_versions()


def _install(session: nox.Session, *extras: str) -> None:
    session.install("-e", *(extras or (HARNESS,)))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (what CI runs): registry, README and reports freshness, then pytest."""
    _install(session)
    session.run("python", "-m", "zoo", "check")
    for outdir, fmt in EXPORTS.items():
        session.run("python", "-m", "zoo", "export", fmt, outdir, "--check")
    session.run("python", "-m", "harness", "report", "--check")
    # tests/cluster starts a private Slurm and runs minutes of jobs: its own session (tests-slurm) runs it, so a
    # machine that has Slurm installed does not run it twice.
    session.run("python", "-m", "pytest", "--ignore=tests/cluster", *(session.posargs or ["-q"]))


@nox.session(name="tests-pythons", python=PYTHON_RANGE)
def tests_pythons(session: nox.Session) -> None:
    """The fast part of the suite (FAST_PATHS, not slow) on the oldest and newest supported Python."""
    _install(session)
    session.run("python", "-m", "pytest", *(session.posargs or ["-q", "-m", FAST_MARKERS, *FAST_PATHS]))


@nox.session(name="tests-slurm")
def tests_slurm(session: nox.Session) -> None:
    """The Slurm tests (tests/cluster): `reproduce --launcher slurm` against a private one-node Slurm that the tests
    start and stop themselves (root, Debian's slurm-wlm and munge; tests/cluster/slurm_local.py). Where it cannot
    start they skip, or fail with HRNET_ZOO_REQUIRE_SLURM=1 (what .ci/run sets)."""
    _install(session)  # the test extra brings the cluster extra (submitit)
    session.run("python", "-m", "pytest", "tests/cluster", *(session.posargs or ["-q"]))


@nox.session(name="readme-install", python=PYTHON_RANGE)
def readme_install(session: nox.Session) -> None:
    """README's install block run as written in a fresh `python -m venv` of this Python (its own pip and setuptools;
    no uv, no nox), then `doctor`, `score` on the sample with the evaluator of record, and the rebuild command that
    PyPI's numpy-1 xtcocotools wheel names at first use (tests/test_readme_install.py). CI runs readme-install-3.10."""
    _install(session)
    env = {"HRNET_ZOO_PIP_INSTALL": "1"}
    session.run("python", "-m", "pytest", "tests/test_readme_install.py", *(session.posargs or ["-q"]), env=env)


@nox.session
def wheel(session: nox.Session) -> None:
    """The package as a stranger gets it: build the sdist and the wheel, install the wheel in a fresh venv, and from
    an empty folder run `hrnet-zoo --version|list|check|score` and `reproduce --dataset demo` to "reproduced";
    nothing may land in site-packages or the current folder. Then `pipx install` of the wheel, the xtcocotools
    rebuild its first score names, and the score (tests/test_wheel.py)."""
    _install(session)
    # uv: the test builds with `uv build` and makes the fresh venv with `uv venv`; pipx: the pipx user's path.
    session.install("uv", "pipx")
    env = {"HRNET_ZOO_WHEEL_TEST": "1"}
    session.run("python", "-m", "pytest", "tests/test_wheel.py", *(session.posargs or ["-q"]), env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole tree, then the import contracts (layers benchmarks -> harness ->
    zoo, zoo without torch, no cycles: pyproject's [tool.importlinter]); any violation fails the session."""
    # The lint extra names both tools (one place for their versions); with it come only the registry's three light
    # dependencies. lint-imports reads the source (it imports none of it), finding the packages from the cwd.
    _install(session, ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def readme(session: nox.Session) -> None:
    """Regenerate the README's result tables from zoo.yaml (and result files, once there are any)."""
    _install(session, ".")
    session.run("python", "-m", "zoo", "readme", *session.posargs)


@nox.session
def export(session: nox.Session) -> None:
    """Regenerate exports/: model-index metafiles (mim / Papers with Code) and Hub model cards, from zoo.yaml and
    results/history/ (`-- --check`: fail when stale)."""
    _install(session, ".[zoo]")
    for outdir, fmt in EXPORTS.items():
        session.run("python", "-m", "zoo", "export", fmt, outdir, *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Compare ours with the reference (MMPose 0.29, built in .oracle/venv on first use) on the sample data."""
    _install(session)
    session.install("uv")  # oracle/build_env.py drives uv to build the oracle's own virtual environment
    session.run("python", "oracle/build_env.py")
    env = {"HRNET_ZOO_ORACLE": "1"}
    session.run("python", "-m", "pytest", "-m", "oracle", "tests/oracle", *(session.posargs or ["-q"]), env=env)


@nox.session
def data(session: nox.Session) -> None:
    """The datasets: `-- list`, `-- fetch coco` (download, verify, lay out the reference layout, check, pin the data
    lock; prints any manual steps), `-- check all`. Data root: `-- ... --data-root DIR`, else $HRNET_ZOO_DATA or
    ./data. Horse-10 needs `--accept-terms` (non-commercial use only)."""
    _install(session)
    session.run("python", "-m", "harness", "data", *(session.posargs or ["list"]))


def _reproduce(session: nox.Session, dataset: str) -> None:
    _install(session)
    session.run("python", "-m", "harness", "reproduce", "--dataset", dataset, *session.posargs)


@nox.session(name="reproduce-demo")
def reproduce_demo(session: nox.Session) -> None:
    """The whole loop offline in minutes: generate the demo val split, fetch + verify the shipped checkpoint,
    evaluate with flip on the CPU, report against its documented numbers."""
    _install(session)
    session.run("python", "-m", "harness.demo.generate", "--root", "data/demo", "--train", "0", "--val", "80")
    session.run(
        "python",
        "-m",
        "harness",
        "reproduce",
        "--dataset",
        "demo",
        "--data-root",
        "data",
        "--offline",
        *(session.posargs or ["--device", "cpu"]),
    )


@nox.session(name="reproduce-aic")
def reproduce_aic(session: nox.Session) -> None:
    """Reproduce every AIC row (top-down; bottom-up single- and multi-scale). Data: --data-root or $HRNET_ZOO_DATA."""
    _reproduce(session, "aic")


@nox.session(name="reproduce-coco")
def reproduce_coco(session: nox.Session) -> None:
    """Reproduce every COCO row (top-down on detector boxes; HigherHRNet single- and multi-scale)."""
    _reproduce(session, "coco")


@nox.session(name="reproduce-horse10")
def reproduce_horse10(session: nox.Session) -> None:
    """Reproduce the Horse-10 rows (PCK@0.3 and NME, splits 1-3, W32 and W48)."""
    _reproduce(session, "horse10")


@nox.session(name="reproduce-macaque")
def reproduce_macaque(session: nox.Session) -> None:
    """Reproduce the MacaquePose rows (W32, W48)."""
    _reproduce(session, "macaque")


@nox.session(name="reproduce-atrw")
def reproduce_atrw(session: nox.Session) -> None:
    """Reproduce the ATRW rows (W32, W48; padding 1.0)."""
    _reproduce(session, "atrw")


@nox.session
def reproduce(session: nox.Session) -> None:
    """Reproduce every documented row of every dataset."""
    _reproduce(session, "all")


@nox.session
def report(session: nox.Session) -> None:
    """Re-render reports/ and the README tables from results/history/ (`-- --check`: fail when stale)."""
    _install(session)
    session.run("python", "-m", "harness", "report", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed benchmarks, ours vs MMPose 0.29 on the same machine and inputs (writes benchmarks/results/<env>.*).
    `-- --quick` for a smoke run, `-- --only CASE`, `-- --env-name NAME`."""
    _install(session)
    session.install("uv")  # oracle/build_env.py drives uv to build the oracle's own virtual environment
    session.run("python", "oracle/build_env.py")
    session.run("python", "-m", "benchmarks", *session.posargs)
