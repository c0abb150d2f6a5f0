"""One session per user verb. `nox -l` lists them; each docstring is its help text.

Extra arguments pass through after `--`, e.g. `nox -s tests -- -k registry` or
`nox -s reproduce-aic -- --device cpu --limit 100`.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

HARNESS = ".[harness,test]"


def _install(session: nox.Session, *extras: str) -> None:
    session.install("-e", *(extras or (HARNESS,)))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (what CI runs), then the registry/README freshness check."""
    _install(session)
    session.run("python", "-m", "zoo", "check")
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def readme(session: nox.Session) -> None:
    """Regenerate the README's result tables from zoo.yaml (and result files, once there are any)."""
    _install(session, ".")
    session.run("python", "-m", "zoo", "readme", *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Compare ours with the reference (MMPose 0.29, built in .oracle/venv on first use) on the sample data."""
    _install(session)
    session.run("python", "oracle/build_env.py")
    env = {"HRNET_ZOO_ORACLE": "1"}
    session.run("python", "-m", "pytest", "-m", "oracle", "tests/oracle", *(session.posargs or ["-q"]), env=env)
