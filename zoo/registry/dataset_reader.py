"""The `sources:` of a zoo.yaml dataset -> `schema.DataSource` records, every problem reported with path and line.

A source is one artefact (an archive or a plain file) with its URL(s) or a manual step, its documented hash and size
when known, the member(s) taken from it and where each goes under the data root. Beyond the fields, the reader checks
that the sources cover the splits: every path a split reads (annotation file, image folder, box file) is produced by
exactly one source, so `python -m harness data fetch` can lay out everything a documented row needs.
"""

from __future__ import annotations

import re
from typing import get_args
from urllib.parse import urlparse

from zoo.registry.checkpoint_reader import read_url
from zoo.registry.schema import ArchiveFormat, ArchiveMember, DataSource, DataSplit, ManualStep
from zoo.registry.yamltree import Located, Problems, fields, get_bool, get_choice, get_int, get_list, get_str, join

FORMATS: tuple[str, ...] = get_args(ArchiveFormat)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_HUB = re.compile(r"^hf://datasets/[\w.-]+/[\w.-]+(@[\w.-]+)?/[^@]+$")


def read_sources(node: Located, path: str, problems: Problems, *, key: str | None, splits: dict) -> tuple:
    """Every source of one dataset, in file order; problems (and duplicate names, uncovered paths) are reported."""
    items = get_list(problems, node, path, expected="a list of sources (name, format, urls or manual, members)")
    out: list[DataSource] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items or []):
        source = _read_source(item, join(path, i), problems, key=key)
        if source is None:
            continue
        if source.name in seen:
            problems.add(join(join(path, i), "name"), item.line, f"duplicate source {source.name!r}", "unique names")
            continue
        seen[source.name] = i
        out.append(source)
    if out and len(out) == len(items or []):
        _check_coverage(out, splits, path, node.line, problems)
    return tuple(out)


def _read_source(node: Located, path: str, problems: Problems, *, key: str | None) -> DataSource | None:
    optional = ("urls", "manual", "mirrors", "sha256", "size", "members", "to", "terms", "requires_acceptance", "note")
    f = fields(problems, node, path, required=("name", "format"), optional=optional)
    if f is None or "name" not in f or "format" not in f:
        return None
    before = len(problems.items)
    name = get_str(problems, f["name"], join(path, "name"), expected="an identifier of lowercase a-z, 0-9 and _")
    if name is not None and not _NAME.match(name):
        problems.add(join(path, "name"), f["name"].line, f"{name!r} is not an identifier", "lowercase a-z, 0-9, _")
    fmt = get_choice(problems, f["format"], join(path, "format"), FORMATS)
    urls = tuple(_list(f.get("urls"), join(path, "urls"), problems, lambda n, p: _download_url(n, p, problems)))
    mirrors = tuple(_list(f.get("mirrors"), join(path, "mirrors"), problems, lambda n, p: _mirror(n, p, problems)))
    manual = _manual(f["manual"], join(path, "manual"), problems) if "manual" in f else None
    if ("urls" in f) == ("manual" in f):
        problems.add(path, node.line, "needs either `urls` or `manual`", "exactly one: a download, or the steps")
    filename = urls[0].rstrip("/").rsplit("/", 1)[-1] if urls else (manual.file if manual else "")
    sha256 = get_str(problems, f["sha256"], join(path, "sha256")) if "sha256" in f else None
    if sha256 is not None and not _SHA256.match(sha256):
        problems.add(join(path, "sha256"), f["sha256"].line, f"{sha256!r}", "64 lower-case hex digits")
    size = get_int(problems, f["size"], join(path, "size"), minimum=1) if "size" in f else None
    members = _members(f, fmt, filename, path, node, problems, key=key)
    terms = get_str(problems, f["terms"], join(path, "terms")) if "terms" in f else ""
    accept = False
    if "requires_acceptance" in f:
        accept = get_bool(problems, f["requires_acceptance"], join(path, "requires_acceptance"))
    if accept and not terms:
        problems.add(join(path, "requires_acceptance"), node.line, "acceptance of no terms", "a `terms` text to show")
    note = get_str(problems, f["note"], join(path, "note")) if "note" in f else ""
    if len(problems.items) > before:
        return None
    return DataSource(
        name=name,
        format=fmt,
        filename=filename,
        members=members,
        urls=urls,
        mirrors=mirrors,
        sha256=sha256,
        size=size,
        terms=terms or "",
        requires_acceptance=bool(accept),
        manual=manual,
        note=note or "",
    )


def _list(node: Located | None, path: str, problems: Problems, read) -> list:
    if node is None:
        return []
    items = get_list(problems, node, path, expected="a list") or []
    return [v for v in (read(item, join(path, i)) for i, item in enumerate(items)) if v is not None]


def _download_url(node: Located, path: str, problems: Problems) -> str | None:
    """https as for checkpoints, and also plain http: some dataset hosts document only http (COCO's
    images.cocodataset.org). The transport is not what vouches for the bytes: a documented sha256, or else the
    hash pinned by the data lock on first use, is checked on every fetch."""
    value = node.value
    if isinstance(value, str) and value.startswith("http://"):
        parsed = urlparse(value)
        name = parsed.path.rsplit("/", 1)[-1]
        if parsed.netloc and "." in name and not name.startswith("."):
            return value
    return read_url(node, path, problems)


def _mirror(node: Located, path: str, problems: Problems) -> str | None:
    value = get_str(problems, node, path)
    if value is None:
        return None
    if value.startswith("hf://"):
        if not _HUB.match(value):
            problems.add(path, node.line, f"{value!r}", "hf://datasets/OWNER/REPO[@REVISION]/PATH/IN/REPO")
            return None
        return value
    return _download_url(node, path, problems)


def _manual(node: Located, path: str, problems: Problems) -> ManualStep | None:
    f = fields(problems, node, path, required=("page", "file"), optional=("note",))
    if f is None or "page" not in f or "file" not in f:
        return None
    page = read_url(f["page"], join(path, "page"), problems, file=False)
    file = get_str(problems, f["file"], join(path, "file"), expected="a plain file name")
    if file is not None and ("/" in file or "\\" in file or file.startswith(".") or not file.strip()):
        problems.add(join(path, "file"), f["file"].line, f"{file!r}", "a plain file name, e.g. val2017.zip")
        file = None
    note = get_str(problems, f["note"], join(path, "note")) if "note" in f else ""
    if page is None or file is None:
        return None
    return ManualStep(page=page, file=file, note=note or "")


def _members(f: dict, fmt, filename: str, path: str, node: Located, problems: Problems, *, key) -> tuple:
    """Archives list `members: [{from, to}]`; a plain file names its place with `to`."""
    if fmt == "file":
        if "members" in f or "to" not in f:
            problems.add(path, node.line, "a `file` source has `to` (its place) and no `members`", "`to: PATH`")
            return ()
        target = _relpath(f["to"], join(path, "to"), problems, key=key)
        if target is not None and target.endswith("/"):
            problems.add(join(path, "to"), f["to"].line, f"{target!r} is a folder", "the file's path")
            return ()
        return (ArchiveMember(member=filename, target=target),) if target else ()
    if fmt is None:
        return ()
    if "to" in f or "members" not in f:
        problems.add(path, node.line, "an archive source lists `members` (and has no `to`)", "members: [{from, to}]")
        return ()
    mpath = join(path, "members")
    items = get_list(problems, f["members"], mpath, expected="a non-empty list of {from, to}") or []
    if not items and isinstance(f["members"].value, list):
        problems.add(mpath, f["members"].line, "no members", "at least one {from: IN/ARCHIVE, to: UNDER/DATA/ROOT}")
    out = []
    for i, item in enumerate(items):
        mf = fields(problems, item, join(mpath, i), required=("from", "to"))
        if mf is None or "from" not in mf or "to" not in mf:
            continue
        src = _relpath(mf["from"], join(join(mpath, i), "from"), problems, key=None)
        dst = _relpath(mf["to"], join(join(mpath, i), "to"), problems, key=key)
        if src is None or dst is None:
            continue
        if src.endswith("/") != dst.endswith("/"):
            problems.add(join(mpath, i), item.line, f"{src!r} -> {dst!r}", "both folders (ending in '/') or both files")
            continue
        out.append(ArchiveMember(member=src, target=dst))
    return tuple(out)


def _relpath(node: Located, path: str, problems: Problems, *, key: str | None) -> str | None:
    value = get_str(problems, node, path, expected="a relative path")
    if value is None:
        return None
    parts = value.rstrip("/").split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
        problems.add(path, node.line, f"{value!r} is not a plain relative path", "a/b/c (no '..', '.', '//' or '/')")
        return None
    if key is not None and parts[0] != key:
        problems.add(path, node.line, f"{value!r} is outside the dataset's folder", f"a path under {key}/")
        return None
    return value


def _check_coverage(sources: list[DataSource], splits: dict, path: str, line: int, problems: Problems) -> None:
    """Every file a split reads lies inside exactly one source target, and its image folder is, or holds, some
    target (Horse-10's image folder holds labeled-data/ and annotations/): the fetch must lay out everything."""
    targets = [(s.name, t) for s in sources for t in s.targets]
    for split_name, split in splits.items():
        if not isinstance(split, DataSplit):
            continue
        for role, rel in (("ann_file", split.ann_file), ("img_dir", split.img_dir), ("bbox_file", split.bbox_file)):
            if rel is None:
                continue
            covering = [name for name, t in targets if _inside(rel, t)]
            if role == "img_dir" and not covering:
                covering = [name for name, t in targets if _inside(t, rel)][:1]
            if len(covering) != 1:
                what = "no source" if not covering else f"{len(covering)} sources ({', '.join(covering)})"
                problems.add(
                    path, line, f"splits.{split_name}.{role} {rel!r} is laid out by {what}", "exactly one source"
                )


def _inside(rel: str, target: str) -> bool:
    """Is the split path `rel` the target itself or inside the target folder?"""
    rel_n, target_n = rel.rstrip("/"), target.rstrip("/")
    return rel_n == target_n or (target.endswith("/") and rel_n.startswith(target_n + "/"))


def hub_parts(mirror: str) -> tuple[str, str | None, str]:
    """(repo_id, revision, path in repo) of a validated `hf://datasets/OWNER/REPO[@REV]/PATH` mirror."""
    rest = urlparse(mirror).netloc + urlparse(mirror).path  # "datasets/OWNER/REPO[@REV]/PATH"
    _, owner, repo_rev, *path = rest.split("/")
    repo, _, rev = repo_rev.partition("@")
    return f"{owner}/{repo}", rev or None, "/".join(path)
