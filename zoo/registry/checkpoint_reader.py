"""Checkpoint records and URLs of zoo.yaml (`entries[i].checkpoint`), validated against the file-name convention."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from zoo.registry.schema import Checkpoint, HubMirror
from zoo.registry.yamltree import Located, Problems, fields, get_int, get_list, get_str, join

#: PROTOCOLS.md §6: published checkpoints are named <name>-<first 8 hex of sha256>_<YYYYMMDD>.pth.
CHECKPOINT_NAME = re.compile(r"^(?P<stem>.+)-(?P<hash>[^-_]+)_(?P<date>\d{8})\.pth$")
_HEX8 = re.compile(r"^[0-9a-f]{8}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def read_checkpoint(node: Located, path: str, entry_id: str | None, problems: Problems) -> Checkpoint | None:
    f = fields(
        problems, node, path, required=("url", "sha256_prefix"), optional=("log_url", "sha256", "size", "mirrors")
    )
    if f is None or "url" not in f or "sha256_prefix" not in f:
        return None
    before = len(problems.items)
    url = read_url(f["url"], join(path, "url"), problems)
    parts = CHECKPOINT_NAME.match(url.rsplit("/", 1)[-1]) if url else None
    if url and parts is None:
        problems.add(
            join(path, "url"),
            f["url"].line,
            f"file name {url.rsplit('/', 1)[-1]!r}",
            "<name>-<8 hex of sha256>_<YYYYMMDD>.pth (PROTOCOLS.md §6)",
        )
    elif parts is not None and entry_id is not None and parts["stem"] != entry_id:
        problems.add(
            join(path, "url"),
            f["url"].line,
            f"file stem {parts['stem']!r} differs from id {entry_id!r}",
            "id = checkpoint file name without hash and date",
        )
    prefix = _sha_prefix(f["sha256_prefix"], join(path, "sha256_prefix"), parts, problems)
    log_url = read_url(f["log_url"], join(path, "log_url"), problems) if "log_url" in f else None
    if log_url and parts is not None:
        want = f"{url.rsplit('/', 1)[0]}/{parts['stem']}_{parts['date']}.log.json"
        if log_url != want:
            problems.add(join(path, "log_url"), f["log_url"].line, f"{log_url!r}", f"{want!r} (PROTOCOLS.md §9)")
    sha256 = None
    if "sha256" in f:
        sha256 = get_str(problems, f["sha256"], join(path, "sha256"))
        if sha256 is not None and (not _HEX64.match(sha256) or (prefix and not sha256.startswith(prefix))):
            problems.add(
                join(path, "sha256"), f["sha256"].line, f"{sha256!r}", "64 lowercase hex starting with the prefix"
            )
    size = get_int(problems, f["size"], join(path, "size"), minimum=1) if "size" in f else None
    mirrors = _read_mirrors(f["mirrors"], join(path, "mirrors"), problems) if "mirrors" in f else ()
    if len(problems.items) > before:
        return None
    return Checkpoint(url=url, sha256_prefix=prefix, log_url=log_url, sha256=sha256, size=size, mirrors=mirrors)


def _sha_prefix(node: Located, path: str, parts, problems: Problems) -> str | None:
    value = node.value
    expected = '8 lowercase hex digits as a quoted string, e.g. "30a4e465"'
    if not isinstance(value, str):
        problems.add(
            path, node.line, f"got {type(value).__name__} {node.text!r} (YAML reads bare digits as numbers)", expected
        )
        return None
    if not _HEX8.match(value):
        problems.add(path, node.line, f"{value!r} is not 8 lowercase hex digits", expected)
        return None
    if parts is not None and parts["hash"] != value:
        problems.add(
            path, node.line, f"{value!r} does not match the URL's file name (-{parts['hash']}_)", repr(parts["hash"])
        )
    return value


def _read_mirrors(node: Located, path: str, problems: Problems) -> tuple:
    out = []
    for i, item in enumerate(get_list(problems, node, path, expected="a list of Hub mirrors") or []):
        f = fields(problems, item, join(path, i), required=("repo_id", "filename"), optional=("revision",))
        if f is None or "repo_id" not in f or "filename" not in f:
            continue
        vals = {k: get_str(problems, v, join(join(path, i), k)) for k, v in f.items()}
        if None not in vals.values():
            out.append(HubMirror(**vals))
    return tuple(out)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def read_url(node: Located, path: str, problems: Problems, *, file: bool = True) -> str | None:
    """An https URL; with `file`, one whose path ends in a file name (name.ext), as downloads need.

    Two more forms are accepted for files: `http://` to a loopback host (a local mirror, the tests' server), and
    `file:REL/PATH` relative to the folder of zoo.yaml (a checkpoint shipped with the repository, e.g. the demo's).
    """
    expected = "an https URL ending in a file name" if file else "an https URL"
    value = get_str(problems, node, path, expected=expected)
    if value is None:
        return None
    parsed = urlparse(value)
    name = parsed.path.rsplit("/", 1)[-1]
    if file and parsed.scheme == "file":
        if parsed.netloc or parsed.path.startswith("/") or ".." in parsed.path.split("/"):
            problems.add(path, node.line, f"URL {value!r} must be file:RELATIVE/PATH inside the repository", expected)
            return None
    elif parsed.scheme == "http" and parsed.netloc.rsplit(":", 1)[0] in LOOPBACK_HOSTS:
        pass
    elif parsed.scheme != "https" and not (not file and parsed.scheme == "http"):
        problems.add(path, node.line, f"URL {value!r} is not https", expected)
        return None
    if (not parsed.netloc and parsed.scheme != "file") or (file and ("." not in name or name.startswith("."))):
        problems.add(path, node.line, f"URL {value!r} has no {'file name' if file else 'host'}", expected)
        return None
    return value
