"""Paths as generated and recorded files hold them: a function of the results, never of the machine.

A history record, result.json, a report, an export or a manifest names a file by where it lies for every machine,
never by where it lies on this one (no absolute path, no home folder):

- `$DATA/<path>`: under the run's data root (`--data-root`, else HRNET_ZOO_DATA, else ./data);
- `$CACHE/<path>`: under the verified checkpoint cache (HRNET_ZOO_CACHE, else ~/.cache/hrnet-zoo/checkpoints);
- `<path>` with no prefix: relative to the repository (the checkout), e.g. `tests/data/samples/coco/...`;
- `$ELSEWHERE/<name>`: a file outside all three, by its name alone (the sha256 recorded beside it identifies it).

The most specific root wins (./data lies inside the checkout: its files are `$DATA/...`). Readers never open these
paths again: the sha256 beside each one is what identifies a file. `machine_paths` finds what a generated or
recorded file must not hold (the guard tests scan the committed files and a quick start's output with it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo import settings

DATA = "$DATA"
CACHE = "$CACHE"
ELSEWHERE = "$ELSEWHERE"


def roots(data_root: str | os.PathLike | None = None) -> dict[str, Path]:
    """{prefix: folder} of the roots a path is recorded against ("" is the repository)."""
    out = {"": settings.REPO, CACHE: settings.cache_dir()}
    if data_root is not None:
        out[DATA] = Path(data_root)
    return out


def _forms(folder: Path) -> list[str]:
    """The absolute spellings of a folder: as given (symlinks kept) and fully resolved."""
    given = os.path.abspath(os.path.expanduser(folder))
    try:
        real = str(Path(given).resolve())
    except OSError:
        real = given
    return list(dict.fromkeys([given, real]))


def _candidates(known: Mapping[str, Path]) -> list[tuple[str, str]]:
    """(absolute folder, prefix), longest folder first, so that the most specific root wins."""
    pairs = [(form, prefix) for prefix, folder in known.items() for form in _forms(folder)]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def _join(prefix: str, rel: str) -> str:
    rel = rel.replace(os.sep, "/")
    if not prefix:
        return rel or "."
    return f"{prefix}/{rel}" if rel else prefix


def path(value: str | os.PathLike, known: Mapping[str, Path]) -> str:
    """`value` (absolute, or relative to the working folder) as a recorded file holds it (module docstring)."""
    text = os.fspath(value)
    for absolute in _forms(Path(text)):
        for folder, prefix in _candidates(known):
            if absolute == folder or absolute.startswith(folder.rstrip(os.sep) + os.sep):
                return _join(prefix, os.path.relpath(absolute, folder) if absolute != folder else "")
    return f"{ELSEWHERE}/{Path(text).name}"


def text(value: str, known: Mapping[str, Path]) -> str:
    """Free text (a message, a load report) with every absolute spelling of a root replaced by its prefix."""
    for folder, prefix in _candidates(known):
        value = value.replace(folder.rstrip(os.sep) + os.sep, f"{prefix}/" if prefix else "")
        value = re.sub(re.escape(folder) + r"(?![\w-]|\.\w)", prefix or ".", value)
    return value


def tree(obj: Any, known: Mapping[str, Path]) -> Any:
    """A JSON-like tree with every string made portable: a whole absolute path by `path`, free text by `text`."""
    if isinstance(obj, str):
        return path(obj, known) if os.path.isabs(obj) else text(obj, known)
    if isinstance(obj, Mapping):
        return {k: tree(v, known) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [tree(v, known) for v in obj]
    return obj


#: An absolute POSIX path (a slash that starts a value or follows a quote, a space, a bracket, `=` or a backtick,
#: then a folder name and another slash), a home-relative one (`~/`), or a Windows drive path. URLs (`https://`)
#: and relative paths (`demo/checkpoints/...`) do not match.
_MACHINE = re.compile(
    r"""(?:^|(?<=[\s"'`(\[=<]))(?:/[\w.@+-]+/[^\s"'`)\]>,;]*|~/[^\s"'`)\]>,;]*|[A-Za-z]:\\[^\s"']*)""", re.MULTILINE
)


def machine_paths(content: str, *also: str) -> list[str]:
    """The absolute paths (and any of the strings `also`, e.g. this machine's temporary folder) in `content`."""
    found = [m.group(0) for m in _MACHINE.finditer(content) if m.group(0)]
    found += [s for s in also if s and s in content]
    return list(dict.fromkeys(found))
