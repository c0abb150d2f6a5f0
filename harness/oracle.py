"""Host-side access to the MMPose 0.29 oracle (PARITY.md "The oracle environment"): locate or build its virtual
environment and run the scripts in oracle/ with its interpreter.

The oracle lives in its own venv (.oracle/venv, built by oracle/build_env.py) because its pins (numpy<2,
setuptools<70, torch 2.4) must not leak into the project's environment. Nothing here imports mmpose or the oracle
scripts: they talk to us through files only (JSON, .npy/.npz, .pth), so this module needs only the standard library.
Used by the parity tests (tests/oracle) and the benchmarks' reference timings. It works in a checkout only (oracle/
is not installed); an installed package sees no oracle.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.errors import OracleError
from zoo import settings

REPO = Path(__file__).resolve().parents[1]
ORACLE_DIR = REPO / "oracle"
BUILD_SCRIPT = ORACLE_DIR / "build_env.py"
#: Where the venv lives; HRNET_ZOO_ORACLE_VENV points elsewhere (e.g. a shared, prebuilt one).
VENV = settings.oracle_venv()
#: Environment variables that would make the oracle interpreter see the project's packages or venv.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX", "__PYVENV_LAUNCHER__")


def _tail(text: str, n: int = 4000) -> str:
    return text if len(text) <= n else "...\n" + text[-n:]


def oracle_python() -> Path | None:
    """The oracle's python when its venv is built and matches oracle/requirements.txt, else None. Cheap (one
    short subprocess): build_env.py owns the stamp logic, so it is asked rather than duplicated here."""
    if not BUILD_SCRIPT.is_file():  # an installed package: no checkout, no oracle
        return None
    proc = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--check", "--venv", str(VENV)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.strip().splitlines()[-1])


def ensure_oracle_env(*, timeout: float = 1800.0) -> Path:
    """Build (or refresh) the oracle venv and return its python. A no-op when it is already current.
    Needs `uv` on PATH and access to PyPI on the first build (~2.5 GB of wheels, mostly torch's CUDA libraries;
    later builds come from uv's cache in well under a minute)."""
    try:
        proc = subprocess.run(
            [sys.executable, str(BUILD_SCRIPT), "--venv", str(VENV)],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise OracleError(
            f"building the oracle venv at {VENV} took over {timeout:.0f} s; run "
            f"`python3 {BUILD_SCRIPT}` by hand to see where it stalls"
        ) from exc
    if proc.returncode != 0:
        raise OracleError(
            f"building the oracle venv at {VENV} failed (exit {proc.returncode}); run `python3 {BUILD_SCRIPT}` "
            f"to reproduce. Its log:\n{_tail(proc.stderr)}"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def oracle_env() -> dict[str, str]:
    """Environment for an oracle subprocess: the oracle scripts can import each other (PYTHONPATH=oracle/), the
    project's packages and any activated venv stay invisible."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONPATH"] = str(ORACLE_DIR)
    # fp32 results depend on the reduction order, hence on the thread count: parity compares one-thread runs on both
    # sides (tests/oracle/conftest.py pins ours), unless the caller sets these itself.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["PYTHONNOUSERSITE"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    # mmcv/matplotlib must not try to open a display or write into $HOME/.config on a CI runner.
    env.setdefault("MPLBACKEND", "Agg")
    return env


def run_oracle(
    script: str,
    *args: object,
    timeout: float,
    python: Path | None = None,
    check: bool = True,
    niceness: int = 10,
) -> subprocess.CompletedProcess[str]:
    """Run oracle/<script>.py with the oracle's python and the given CLI arguments (str()-ed).

    Runs under `nice` (the oracle is slow and the CPU is shared) in the caller's working directory, with stdout and
    stderr captured as text. With check=True a non-zero exit raises OracleError carrying the script's stderr.
    """
    name = script.removesuffix(".py")
    path = ORACLE_DIR / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in ORACLE_DIR.glob("*.py"))
        raise OracleError(f"no oracle script {path}; expected one of {known}")
    py = python or oracle_python()
    if py is None:
        raise OracleError(f"the oracle venv at {VENV} is not built: run `python3 {BUILD_SCRIPT}` or `nox -s parity`")
    cmd = [str(py), str(path), *(str(a) for a in args)]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=oracle_env(),
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"oracle script {name} ran over {timeout:.0f} s: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        raise OracleError(
            f"oracle script {name} failed (exit {proc.returncode}): {' '.join(cmd)}\nstderr:\n{_tail(proc.stderr)}"
        )
    return proc
