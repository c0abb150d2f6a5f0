"""What the installed environment must get right, torch-free: the COCO libraries' import check, the versions known
to move a number, and the Python range. `python -m harness doctor` prints them; the scorer imports the libraries
through `import_coco_api`, so a broken build stops a run at first use with the command that fixes it.

Why xtcocotools needs a check (measured 2026-12 in fresh venvs, Python 3.11, pip 23.2, numpy 2.4.6):

- PyPI's xtcocotools 1.14.3 wheels (its newest release) are compiled against numpy 1. Under numpy 2, importing
  `xtcocotools._mask` raises `ValueError: numpy.dtype size changed, may indicate binary incompatibility`.
  pyproject's [tool.uv] settings build it from source for uv (and so for nox); pip reads none of them.
- `pip install --no-binary xtcocotools -e '.[harness]'` fails: the sdist imports numpy in setup.py without declaring
  it as a build requirement, so pip's isolated build stops at `No module named 'numpy'`. A direct sdist reference
  in pyproject fails the same way. Adding `--no-build-isolation` to the first install fails too (nothing is
  installed yet: no numpy, no Cython, and a fresh venv's setuptools has no bdist_wheel).
- No maintained numpy-2 build of the same code is on PyPI: xtcocotools' own releases stop at 1.14.3;
  exococotools and halpecocotools are sdist-only forks with changed code. xthotcoco 0.1.0 is another engine
  (hotcoco, in Rust); it matched xtcocotools bit for bit on 40 noisy predictions of the COCO and AIC sample files,
  but adopting it would replace the evaluator of record, so it is not used.
- Python 3.12 has no xtcocotools wheel at all (the ordinary install stops at the same isolated sdist build), and on
  3.13 its setup.py fails outright (pyproject's requires-python says so). Building it first works on 3.10-3.12:
  `pip install 'numpy>=2' cython 'setuptools>=70.1'`, then the rebuild below, then `pip install -e '.[harness]'`
  (README's install block; tests/test_readme_install.py runs it). The setuptools bound: `python -m venv` on 3.10 and
  3.11 brings setuptools 65.5, which without the `wheel` package has no bdist_wheel (pip 23.1 and later then stop at
  `invalid command 'bdist_wheel'`; 3.10.13's pip 23.0.1 still falls back to `setup.py install`); 70.1 has it built in.
- What works: after the ordinary install, rebuild xtcocotools from its sdist against the installed numpy
  (`XTCOCOTOOLS_REBUILD`, about 10 s; it needs a C compiler). Its build needs are its own run-time requirements
  (numpy, Cython, setuptools), so they are present by then; `--no-cache-dir` keeps pip from reusing a wheel it once
  built against another numpy. The numbers are xtcocotools 1.14.3's by construction: the same code, compiled.
- The command names the environment to rebuild in, never a bare `pip` (whichever pip is first on PATH may belong to
  another Python): `<this python> -m pip` where this environment has pip; in a pipx venv (no pip of its own on PATH,
  `pipx_metadata.json` in its folder) `pipx runpip <venv>`, after installing the build needs there (Cython,
  setuptools: a venv that is not built from the ordinary install may lack them); in a venv without pip (uv's)
  `uv pip --python <this python>`.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import shlex
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.errors import InstallError

#: The distribution name of this project (pyproject's [project] name).
PROJECT = "hrnet-zoo"

#: Rebuild xtcocotools from source against the installed numpy (see the module docstring for why and what else
#: was tried): `pip install`'s arguments; `rebuild_command` puts the environment's own pip before them. `{version}`
#: is the installed one, so the scores stay those of the version of record.
XTCOCOTOOLS_REBUILD = (
    "--force-reinstall --no-deps --no-build-isolation --no-binary xtcocotools --no-cache-dir xtcocotools=={version}"
)
#: The same with uv's pip, for a venv that has no pip (uv creates them so).
XTCOCOTOOLS_REBUILD_UV = (
    "--reinstall-package xtcocotools --no-deps --no-build-isolation --no-binary xtcocotools --no-cache "
    "xtcocotools=={version}"
)
#: What the build without isolation needs in the environment besides numpy.
BUILD_NEEDS = "cython setuptools"
#: pipx writes this file into each venv it manages (pipx's own record of the venv).
PIPX_METADATA = "pipx_metadata.json"


def pip_install(
    prefix: str | None = None, executable: str | None = None, *, has_pip: bool | None = None
) -> tuple[str, str]:
    """(kind, command): what runs `pip install` for the environment of this interpreter. "pipx": `pipx runpip VENV
    install`; "pip": `PYTHON -m pip install`; "uv": `uv pip install --python PYTHON` (a venv without pip). The
    arguments default to this process (the tests pass others)."""
    prefix = sys.prefix if prefix is None else prefix
    python = shlex.quote(sys.executable if executable is None else executable)
    if (Path(prefix) / PIPX_METADATA).is_file():
        return "pipx", f"pipx runpip {shlex.quote(Path(prefix).name)} install"
    if has_pip is None:
        has_pip = importlib.util.find_spec("pip") is not None
    return ("pip", f"{python} -m pip install") if has_pip else ("uv", f"uv pip install --python {python}")


def rebuild_command(version: str, **where) -> str:
    """The one command line that rebuilds xtcocotools `version` from source in this environment (`where`: the
    arguments of pip_install)."""
    kind, install = pip_install(**where)
    args = (XTCOCOTOOLS_REBUILD_UV if kind == "uv" else XTCOCOTOOLS_REBUILD).format(version=version)
    rebuild = f"{install} {args}"
    return f"{install} {BUILD_NEEDS} && {rebuild}" if kind == "pipx" else rebuild


#: Messages of an extension module compiled against another numpy major version (Cython's size check; numpy's own
#: import_array guard).
_ABI_SIGNS = ("numpy.dtype size changed", "compiled using numpy 1", "numpy.core.multiarray failed to import")


@dataclass(frozen=True)
class KnownBad:
    """Installed versions of a package that are known to move a number or stop a run."""

    package: str  # distribution name, as importlib.metadata knows it
    versions: str  # PEP 440 specifier
    effect: str
    fix: str


_OPENCV5 = "changes 18.5% of crop pixels (PROTOCOLS.md §10): no exact parity"

#: Reported by users as environment-caused "does not reproduce" (issue #16) and PROTOCOLS.md §10.
KNOWN_BAD = (
    KnownBad("xtcocotools", ">=1.9,<1.12", "computes APm/APl ~3 points low while AP stays right",
             "pip install 'xtcocotools>=1.14'"),
    KnownBad("xtcocotools", "<1.8", "a bug scores multi-scale results worse than single-scale",
             "pip install 'xtcocotools>=1.14'"),
    # .dev0: OpenCV 5's pre-releases change the crops too.
    KnownBad("opencv-python-headless", ">=5.0.0.dev0", _OPENCV5, "pip install 'opencv-python-headless>=4.8,<5'"),
    KnownBad("opencv-python", ">=5.0.0.dev0", _OPENCV5,
             "pip uninstall opencv-python && pip install 'opencv-python-headless>=4.8,<5'"),
)  # fmt: skip


def version_of(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def known_bad(versions: dict[str, str]) -> list[tuple[KnownBad, str]]:
    """(rule, installed version) for each KNOWN_BAD rule the given {package: version} falls under."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    found = []
    for rule in KNOWN_BAD:
        installed = versions.get(rule.package)
        if installed is None:
            continue
        try:
            hit = Version(installed) in SpecifierSet(rule.versions, prereleases=True)
        except InvalidVersion:
            continue
        if hit:
            found.append((rule, installed))
    return found


def python_problem() -> str | None:
    """Why this interpreter is outside the project's declared range (its installed Requires-Python), or None.
    None too when the project is not installed (run from a checkout): nothing declares a range then."""
    try:
        declared = metadata.metadata(PROJECT).get("Requires-Python")
    except metadata.PackageNotFoundError:
        return None
    if not declared:
        return None
    from packaging.specifiers import SpecifierSet

    if platform.python_version() in SpecifierSet(declared):
        return None
    return f"Python {platform.python_version()} is outside {PROJECT}'s supported range {declared}"


def import_coco_api(library: str) -> tuple[type, type]:
    """(COCO, COCOeval) of xtcocotools or pycocotools. InstallError, naming the cause and the one command that fixes
    it, when the library is missing or its compiled part was built for another numpy."""
    try:
        coco = importlib.import_module(f"{library}.coco")
        cocoeval = importlib.import_module(f"{library}.cocoeval")
        return coco.COCO, cocoeval.COCOeval
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == library or exc.name.startswith(f"{library}.")):
            raise InstallError(
                f"{library} is not installed; it is the evaluator of record. Install the harness's dependencies: "
                f"pip install -e '.[harness]' (then `python -m harness doctor` checks them)"
            ) from exc
        raise InstallError(f"cannot import {library}: {exc}. {_reinstall_hint(library)}") from exc
    except (ImportError, ValueError) as exc:
        raise InstallError(_import_failure(library, exc)) from exc


def _import_failure(library: str, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if any(sign in text.lower() for sign in (s.lower() for s in _ABI_SIGNS)):
        numpy_version = version_of("numpy") or "?"
        return (
            f"{library} {version_of(library) or '?'} cannot be imported: its compiled part was built for another "
            f"numpy than the installed {numpy_version} ({text}). PyPI's xtcocotools wheels are built for numpy 1; "
            f"rebuild it from source against this numpy (needs a C compiler): {_reinstall_command(library)}"
        )
    return f"cannot import {library} ({type(exc).__name__}: {text}). {_reinstall_hint(library)}"


def _reinstall_command(library: str) -> str:
    installed = version_of(library)
    if library == "xtcocotools":
        return rebuild_command(installed or "1.14.3")
    kind, install = pip_install()
    again = f"--reinstall-package {library}" if kind == "uv" else "--force-reinstall"
    return f"{install} {again} --no-deps {library}" + (f"=={installed}" if installed else "")


def _reinstall_hint(library: str) -> str:
    return f"Reinstall it: {_reinstall_command(library)}"


def interpreter() -> str:
    """`3.11.7 (CPython, /path/to/python)`."""
    return f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})"
