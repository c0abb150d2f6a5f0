"""Safe, atomic extraction of the members a dataset source names (zoo.yaml `members`) into the data root.

Safety: before anything is written, every entry of the archive is checked and the whole archive is refused
(UnsafeArchiveError) when one has an absolute path, a drive letter or backslash, a `..` component, a link whose
target leaves the archive, or is a device file or FIFO. Tar entries also pass `tarfile.data_filter` where this Python
has it (3.12, and 3.8.17 / 3.9.17 / 3.10.12 / 3.11.4 onwards); the hand rules above are the same checks for the
Pythons without it, and the only ones for zip, which has no filter. Members are then copied as byte streams to paths
this module computes, so nothing in the archive can choose where a byte lands, and links are never created.

Atomicity: members are extracted into `<data root>/.staging/<unique>/`, beside their destination (same file system),
and each target (a file or a whole folder) is renamed into place only when every member is complete. An interrupted
extraction leaves only the staging folder, which the next fetch removes; a target is either absent or complete.
Free disk space is checked first (InsufficientSpaceError).

A member is looked up at the archive's root, or else under the archive's single top-level folder: archives differ
in whether they wrap their content in one folder, and the layout inside several of them could not be checked here.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from harness.errors import BadArchiveError, DataError, InsufficientSpaceError, UnsafeArchiveError
from harness.transfer import byte_bar
from zoo.registry.schema import ArchiveMember

STAGING = ".staging"
#: Left free beyond the extracted bytes (file-system overhead, the lock, logs).
SPACE_MARGIN = 64 << 20
CHUNK = 1 << 20


@dataclass(frozen=True)
class _Entry:
    name: str  # normalised: no leading "./", no trailing "/"
    kind: str  # "file", "dir", "link", "special"
    size: int
    handle: object  # TarInfo or ZipInfo
    link: str = ""


def extract(
    archive: Path, fmt: str, members: Sequence[ArchiveMember], root: Path, *, progress: bool = True
) -> list[str]:
    """Extract `members` of `archive` ("zip" or "tar") to their targets under `root`; returns the targets laid out.
    Raises UnsafeArchiveError, BadArchiveError (unreadable archive, member not found), InsufficientSpaceError or
    DataError (a member cannot be written)."""
    with _opened(archive, fmt) as (entries, read):
        _refuse_unsafe(entries, archive)
        plan = _plan(entries, members, archive)
        need = sum(e.size for e, _ in plan)
        check_space(root, need, what=f"extracting {archive.name}")
        staging = root / STAGING / f"{archive.name}.{uuid.uuid4().hex[:8]}"
        try:
            staging.mkdir(parents=True)
            with byte_bar(f"extract {archive.name}", need, enabled=progress) as bar:
                for entry, rel in plan:
                    _copy(entry, staging / rel, read, bar, archive=archive, fmt=fmt)
            for m in members:  # every member complete: publish each target with one rename
                target = root / m.target.rstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                (staging / m.target.rstrip("/")).replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [m.target for m in members]


def _copy(entry: _Entry, dest: Path, read, bar: tqdm, *, archive: Path, fmt: str) -> None:
    try:
        if entry.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        with read(entry) as src, dest.open("wb") as out:
            while block := src.read(CHUNK):
                out.write(block)
                bar.update(len(block))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise _corrupt(archive, fmt, exc) from exc
    except OSError as exc:
        raise DataError(f"cannot write {dest} while extracting {archive.name}: {exc}; nothing was laid out") from exc


def check_space(root: Path, need: int, *, what: str) -> None:
    """InsufficientSpaceError when the file system of `root` has less than `need` bytes (+ margin) free."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need + SPACE_MARGIN:
        raise InsufficientSpaceError(
            f"{what} needs {need:,} bytes (+ {SPACE_MARGIN >> 20} MB headroom) under {root}, but only {free:,} bytes "
            "are free there; nothing was written. Free some space, or pass --data-root on a larger disk."
        )


def clear_staging(root: Path) -> None:
    """Remove what interrupted extractions left (call while holding the data root's fetch lock)."""
    shutil.rmtree(root / STAGING, ignore_errors=True)


# -- reading archives -----------------------------------------------------------------------------------------


@contextmanager
def _opened(archive: Path, fmt: str) -> Iterator[tuple[list[_Entry], object]]:
    """The archive's entries and a function opening one entry's bytes; reading errors become DataError."""
    if fmt not in ("zip", "tar"):
        raise DataError(f"{archive}: cannot extract format {fmt!r}; expected zip or tar")
    try:
        handle = zipfile.ZipFile(archive) if fmt == "zip" else tarfile.open(archive, "r:*")  # noqa: SIM115
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise _corrupt(archive, fmt, exc) from exc
    with handle:
        try:
            if fmt == "zip":
                entries = [_zip_entry(i) for i in handle.infolist()]
            else:
                entries = [_tar_entry(i) for i in handle.getmembers()]
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
            raise _corrupt(archive, fmt, exc) from exc
        yield entries, (lambda e: handle.open(e.handle)) if fmt == "zip" else (lambda e: handle.extractfile(e.handle))


def _corrupt(archive: Path, fmt: str, exc: Exception) -> BadArchiveError:
    return BadArchiveError(
        f"{archive} is not a readable {fmt} archive ({exc}); delete it and fetch again "
        "(a hand-placed file must be the exact archive the source names)"
    )


def _norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _zip_entry(info: zipfile.ZipInfo) -> _Entry:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        kind = "link"
    elif info.is_dir():
        kind = "dir"
    elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no file type recorded (plain file)
        kind = "special"
    else:
        kind = "file"
    return _Entry(_norm(info.filename), kind, info.file_size, info)


def _tar_entry(info: tarfile.TarInfo) -> _Entry:
    if info.issym() or info.islnk():
        kind = "link"
    elif info.isdir():
        kind = "dir"
    elif info.isfile():
        kind = "file"
    else:
        kind = "special"
    return _Entry(_norm(info.name), kind, info.size if info.isfile() else 0, info, info.linkname)


# -- safety ---------------------------------------------------------------------------------------------------


def _refuse_unsafe(entries: list[_Entry], archive: Path) -> None:
    bad = []
    dest = str(archive.parent / f".{archive.name}.filter-probe")  # never created: data_filter only compares paths
    data_filter = getattr(tarfile, "data_filter", None)
    for e in entries:
        reason = _unsafe_reason(e)
        if reason is None and data_filter is not None and isinstance(e.handle, tarfile.TarInfo):
            try:
                data_filter(e.handle, dest)
            except tarfile.FilterError as exc:
                reason = f"refused by tarfile's data filter ({exc})"
        if reason:
            bad.append(f"{_raw(e)!r}: {reason}")
    if bad:
        shown = "\n  - ".join(bad[:10]) + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise UnsafeArchiveError(
            f"{archive} was refused, nothing was extracted: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} would "
            f"write outside the target or create a link or device:\n  - {shown}\n"
            "Delete the file and download the archive the source names again; if it persists, report the source."
        )


def _raw(e: _Entry) -> str:
    """The entry's name as the archive spells it."""
    return e.handle.filename if isinstance(e.handle, zipfile.ZipInfo) else e.handle.name


def _unsafe_reason(e: _Entry) -> str | None:
    raw = _raw(e)
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        return "absolute path"
    if "\\" in raw:
        return "backslash in the path (a Windows path)"
    if ".." in PurePosixPath(raw).parts:
        return "'..' in the path"
    if e.kind == "special":
        return "a device file, FIFO or other special file"
    if e.kind == "link":
        if isinstance(e.handle, zipfile.ZipInfo):
            return "a link (links in zip archives are never extracted)"
        target = e.link
        if not target:
            return "a link without a target"
        base = PurePosixPath(raw).parent if e.handle.issym() else PurePosixPath()
        if target.startswith("/") or _escapes(base / target):
            return f"a link to {target!r}, outside the archive"
    return None


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


# -- what to extract ------------------------------------------------------------------------------------------


def _plan(entries: list[_Entry], members: Sequence[ArchiveMember], archive: Path) -> list[tuple[_Entry, str]]:
    """(entry, path relative to the staging root) of every entry the members take, in archive order."""
    by_name = {e.name: e for e in entries}
    prefix = _prefix(entries, members, by_name)
    plan: list[tuple[_Entry, str]] = []
    for m in members:
        src = prefix + m.member.rstrip("/")
        if not m.is_dir:
            entry = by_name.get(src)
            if entry is None or entry.kind != "file":
                raise _not_found(m, entries, archive)
            plan.append((entry, m.target))
            continue
        inside = [e for e in entries if e.name.startswith(src + "/")]
        if not inside and getattr(by_name.get(src), "kind", None) != "dir":
            raise _not_found(m, entries, archive)
        for e in inside:
            if e.kind == "link":
                raise UnsafeArchiveError(
                    f"{archive}: {e.name!r} under {m.member!r} is a link; links are never extracted, nothing was "
                    "written. Report the source: its archive is not the one the registry describes."
                )
            plan.append((e, m.target.rstrip("/") + "/" + e.name[len(src) + 1 :]))
        plan.append((_Entry(src, "dir", 0, None), m.target.rstrip("/")))  # the folder exists even when empty
    return sorted(plan, key=lambda p: p[0].kind != "dir")


def _prefix(entries: list[_Entry], members: Sequence[ArchiveMember], by_name: dict) -> str:
    """ "" when the first member is at the archive's root, else "TOP/" when the archive has one top-level folder."""
    first = members[0].member.rstrip("/")
    if first in by_name or any(e.name.startswith(first + "/") for e in entries):
        return ""
    tops = {e.name.split("/", 1)[0] for e in entries if e.name}
    return f"{tops.pop()}/" if len(tops) == 1 else ""


def _not_found(m: ArchiveMember, entries: list[_Entry], archive: Path) -> BadArchiveError:
    tops = sorted({e.name.split("/", 1)[0] + ("/" if "/" in e.name or e.kind == "dir" else "") for e in entries})
    shown = ", ".join(tops[:12]) + (f" and {len(tops) - 12} more" if len(tops) > 12 else "")
    return BadArchiveError(
        f"{archive} has no {'folder' if m.is_dir else 'file'} {m.member!r} (at its root or under its one top-level "
        f"folder); its top-level entries: {shown or '(none)'}. Nothing was extracted. Check that the file is the "
        "archive the source names; if it is, the registry's `members` need fixing: report it."
    )
