"""A folder of generated files (exports/...): written atomically, checked for staleness, never mixed with files a
user wrote.

The folder holds a manifest (`.generated`) naming every file the last write produced. A write replaces those files
(and removes the ones no longer generated); a folder that has files but no manifest was not written by us, so it is
refused unless the caller passes `force` (DESIGN.md principle 7: nothing the user wrote is replaced without an
explicit flag).
The manifest names the command that wrote it with the folder relative to the repository, never this machine's path
(zoo.results.portable): a folder elsewhere is named "this folder".
"""

from __future__ import annotations

from pathlib import Path

from zoo import settings
from zoo.atomic import write_text_atomic
from zoo.errors import GeneratedError
from zoo.results import portable

MANIFEST = ".generated"


def default_exports_dir() -> Path | None:
    """exports/ of the checkout ($HRNET_ZOO_EXPORTS elsewhere): model-index metafiles and Hub model cards. None in an
    installed package without $HRNET_ZOO_EXPORTS: exports are then written only where `zoo export` is told."""
    return settings.exports_dir()


def _manifest(out_dir: Path) -> list[str]:
    path = out_dir / MANIFEST
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def manifest_header(command: str, out_dir: str | Path) -> str:
    """The manifest's first line: `command` (the verb, without its folder) and the folder as the repository names it."""
    where = portable.path(out_dir, {"": settings.REPO})
    shown = f"`{command} {where}`" if not where.startswith(portable.ELSEWHERE) else f"`{command}` into this folder"
    return f"# written by {shown}; do not edit these files by hand\n"


def write(files: dict[str, str], out_dir: str | Path, *, command: str, force: bool = False) -> list[str]:
    """Write {relative path: text} under out_dir; returns the paths that changed (added, rewritten or removed).
    `command`: the verb that generates them, without its folder (`python -m zoo export hf-cards`)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GeneratedError(f"{out_dir} is a file; expected a folder for `{command}` to write into")
    previous = _manifest(out_dir)
    if out_dir.is_dir() and not previous and any(out_dir.iterdir()) and not force:
        raise GeneratedError(
            f"{out_dir} holds files that `{command} {out_dir}` did not write (no {MANIFEST} manifest); choose an empty "
            "or new folder, or pass --force to write into it anyway"
        )
    changed = []
    try:
        for rel, text in sorted(files.items()):
            path = out_dir / rel
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_text_atomic(path, text)
                changed.append(rel)
        for rel in previous:
            if rel not in files and (out_dir / rel).is_file():
                (out_dir / rel).unlink()
                changed.append(rel)
        listing = "".join(f"{rel}\n" for rel in sorted(files))
        write_text_atomic(out_dir / MANIFEST, manifest_header(command, out_dir) + listing)
    except OSError as exc:
        raise GeneratedError(f"{out_dir}: cannot write ({exc.strerror or exc}); expected a writable folder") from exc
    return changed


def stale(files: dict[str, str], out_dir: str | Path, *, command: str) -> list[str]:
    """What differs between the files on disk and what `command` (the verb, without its folder) generates now (empty:
    up to date)."""
    out_dir = Path(out_dir)
    problems = []
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            problems.append(f"{path}: missing")
            continue
        if current != text:
            problems.append(f"{path}: stale")
    for rel in _manifest(out_dir):
        if rel not in files and (out_dir / rel).is_file():
            problems.append(f"{out_dir / rel}: no longer generated")
    return [f"{p}; run `{command} {out_dir}` to regenerate" for p in problems]
