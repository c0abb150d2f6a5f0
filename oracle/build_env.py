"""Build (or update) the MMPose 0.29 oracle virtual environment at .oracle/venv.

Runs with any Python 3 that has `uv` on PATH; needs nothing from the project's own environment. The recipe
(docs/PARITY.md, "The oracle environment"): the resolved pins of oracle/requirements.txt first (numpy<2,
setuptools<70, OpenCV 4, a CUDA-build torch from PyPI that runs on the CPU), then mmcv 1.7.0 built "lite" from its
source distribution with --no-build-isolation (its setup.py imports pkg_resources from the venv's setuptools<70) and
mmpose 0.29.0, both with --no-deps so that their loose requirements (opencv-python, chumpy, ...) cannot pull
anything else in.

Idempotent: a stamp file inside the venv records a hash of the recipe; when it matches, nothing is done. The last
line on stdout is always the oracle's python path (logs go to stderr).

    python3 oracle/build_env.py [--venv PATH] [--python 3.11] [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_VENV = REPO / ".oracle" / "venv"
REQUIREMENTS = HERE / "requirements.txt"
STAMP_NAME = "hrnet-zoo-oracle.stamp"
#: Bump when the steps below change in a way the hashed inputs do not show.
RECIPE_VERSION = 2
#: Installed after the lock file, without their dependencies (PARITY.md "The oracle environment").
NO_DEPS = ("mmcv==1.7.0", "mmpose==0.29.0")
DEFAULT_PYTHON = "3.11"
#: Import check run inside the new venv; the aliases are needed before mmpose 0.29 imports
#: (PARITY.md "The oracle environment").
CHECK = (
    "import json, numpy as np\n"
    "np.int = int; np.float = float; np.bool = bool\n"
    "import cv2, mmcv, mmpose, torch, torchvision, xtcocotools\n"
    "from mmpose.apis import single_gpu_test\n"
    "import xtcocotools.mask as rle\n"  # its compiled part must run under this numpy (bottom-up scoring uses it)
    "rle.decode(rle.encode(np.asfortranarray(np.zeros((2, 2), np.uint8))))\n"
    "from mmcv.parallel import MMDataParallel\n"
    "print(json.dumps({m.__name__: m.__version__ for m in (np, cv2, mmcv, mmpose, torch, torchvision)}))\n"
)


def _log(msg: str) -> None:
    print(f"[oracle-env] {msg}", file=sys.stderr, flush=True)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def recipe_hash(python: str) -> str:
    """Hash of everything that decides the environment's contents."""
    h = hashlib.sha256()
    h.update(REQUIREMENTS.read_bytes())
    h.update(json.dumps({"no_deps": NO_DEPS, "python": python, "recipe": RECIPE_VERSION}).encode())
    return h.hexdigest()


def is_current(venv: Path, digest: str) -> bool:
    stamp = venv / STAMP_NAME
    return venv_python(venv).exists() and stamp.exists() and stamp.read_text().split()[0] == digest


def _uv(*args: str, env: dict[str, str] | None = None) -> None:
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not on PATH: install it (https://docs.astral.sh/uv/) and run this script again")
    # --no-config: uv must not read the project's pyproject.toml [tool.uv] (it builds xtcocotools from source against
    # numpy 2 for the project's venv, which breaks xtcocotools under the oracle's numpy 1: "numpy has no attribute
    # NPY_OWNDATA"); the oracle takes the PyPI wheels its pins name, whatever the working directory.
    cmd = [uv, *args, "--no-config"]
    _log("$ " + " ".join(cmd))
    # uv writes its progress to stderr; keep stdout for the final python path.
    subprocess.run(cmd, check=True, stdout=sys.stderr, env=env)


@contextlib.contextmanager
def _lock(path: Path):
    """Serialise concurrent builds (parallel test workers, two engineers) on one lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(venv: Path, *, python: str = DEFAULT_PYTHON, force: bool = False) -> Path:
    """Create or refresh the oracle venv; returns its python. A rebuild starts from an empty venv (the uv cache
    makes that cheap), so a changed pin can never leave a stale package behind."""
    digest = recipe_hash(python)
    with _lock(venv.parent / (venv.name + ".lock")):
        if not force and is_current(venv, digest):
            _log(f"up to date ({venv})")
            return venv_python(venv)
        t0 = time.monotonic()
        if venv.exists():
            _log(f"removing outdated {venv}")
            shutil.rmtree(venv)
        _uv("venv", str(venv), "--python", python)
        py = str(venv_python(venv))
        _uv("pip", "install", "--python", py, "-r", str(REQUIREMENTS))
        # mmcv 1.7.0 without compiled ops ("lite"): MMCV_WITH_OPS unset/0; setup.py needs the venv's setuptools.
        env = {**os.environ, "MMCV_WITH_OPS": "0"}
        _uv("pip", "install", "--python", py, "--no-deps", "--no-build-isolation", NO_DEPS[0], env=env)
        _uv("pip", "install", "--python", py, "--no-deps", *NO_DEPS[1:])
        out = subprocess.run([py, "-c", CHECK], check=True, capture_output=True, text=True).stdout.strip()
        _log(f"import check: {out}")
        (venv / STAMP_NAME).write_text(f"{digest}\n{out}\n")
        _log(f"built in {time.monotonic() - t0:.0f} s")
        return venv_python(venv)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="where the venv lives (default: %(default)s)")
    ap.add_argument("--python", default=DEFAULT_PYTHON, help="interpreter request passed to `uv venv`")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    ap.add_argument("--check", action="store_true", help="only report whether the venv is current (exit 1 if not)")
    args = ap.parse_args(argv)
    venv = args.venv.resolve()
    if args.check:
        ok = is_current(venv, recipe_hash(args.python))
        _log("current" if ok else "missing or outdated")
        if ok:
            print(venv_python(venv))
        return 0 if ok else 1
    print(build(venv, python=args.python, force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
