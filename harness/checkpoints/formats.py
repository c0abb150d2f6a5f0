"""What a checkpoint file really is, from its first bytes (never from its name, never by unpickling it).

A `.pth` URL that answers with a login page, a safetensors file saved under a `.pth` name, a Git LFS pointer checked
out instead of the file: each must be named for what it is, not reported as an "unsafe pickle" with an opcode
number (issue 13.7). Torch-free, so `inspect` and the loader share one answer.
"""

from __future__ import annotations

import codecs
import json
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal[
    "empty", "html", "xml", "git-lfs-pointer", "safetensors", "torch-zip", "zip", "torch-legacy", "pickle", "gzip",
    "hdf5", "numpy", "text", "unknown",
]  # fmt: skip

#: The kinds `load_checkpoint` reads; every other kind is refused with `Sniffed.describe()`.
LOADABLE: frozenset[Kind] = frozenset({"safetensors", "torch-zip", "torch-legacy"})

#: torch.save's legacy (non-zip) format opens with the pickled magic number 0x1950a86a20f9469cfc6c: protocol 2
#: (\x80\x02), LONG1 of 10 bytes (\x8a\x0a), then the number little-endian.
_TORCH_LEGACY = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_HEAD = 512


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    detail: str = ""  # e.g. the zip's first members, the text's first line
    damaged: bool = False  # a loadable kind, but visibly cut short (a zip without its directory)

    def describe(self) -> str:
        """What the file is, as the end of the sentence "FILE is ..."."""
        what = _WHAT[self.kind]
        return f"{what} ({self.detail})" if self.detail else what


_WHAT: dict[str, str] = {
    "empty": "empty (0 bytes): a download or copy that never wrote anything",
    "html": "an HTML page, not a checkpoint: the URL answered with a web page (a login, error or landing page)",
    "xml": "an XML document, not a checkpoint: typically a storage server's error answer (e.g. AccessDenied)",
    "git-lfs-pointer": "a Git LFS pointer, not the file itself: run `git lfs pull` to fetch the real file",
    "safetensors": "a safetensors file",
    "torch-zip": "a torch.save file (zip format)",
    "zip": "a zip archive that is not a torch.save file",
    "torch-legacy": "a torch.save file (legacy format)",
    "pickle": "a plain Python pickle, not a torch.save file",
    "gzip": "gzip-compressed: decompress it first",
    "hdf5": "an HDF5 file (Keras/TensorFlow weights?), not a PyTorch checkpoint",
    "numpy": "a NumPy .npy array, not a PyTorch checkpoint",
    "text": "a text file, not a checkpoint",
    "unknown": "not a format the harness reads (.pth from torch.save, or .safetensors)",
}


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """The format of the file at `path` from its first bytes (and, for a zip, its member names). OSError if it
    cannot be read."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(_HEAD)
    size = path.stat().st_size
    if not head:
        return Sniffed("empty")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return Sniffed("html", f"it starts with {_first_line(head)!r}")
    if text.startswith(b"<?xml"):
        return Sniffed("xml", f"it reads {_first_line(head[head.find(b'?>') + 2 :] or head)!r}")
    if head.startswith(b"version https://git-lfs.github.com/spec/"):
        return Sniffed("git-lfs-pointer")
    if _is_safetensors(head, size):
        return Sniffed("safetensors")
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    if head.startswith(_TORCH_LEGACY):
        return Sniffed("torch-legacy")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return Sniffed("pickle", f"protocol {head[1]}")
    for magic, kind in ((b"\x1f\x8b", "gzip"), (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x93NUMPY", "numpy")):
        if head.startswith(magic):
            return Sniffed(kind)  # type: ignore[arg-type]
    if _looks_like_text(head):
        return Sniffed("text", f"it starts with {_first_line(head)!r}")
    return Sniffed("unknown", f"first bytes {head[:8].hex(' ')}")


def _is_safetensors(head: bytes, size: int) -> bool:
    """safetensors: an 8-byte little-endian header length N, then N bytes of JSON that open with '{'."""
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if not (2 <= n <= size - 8) or head[8:9] != b"{":
        return False
    if n + 8 <= len(head):
        try:
            return isinstance(json.loads(head[8 : 8 + n]), dict)
        except ValueError:
            return False
    return True


def _sniff_zip(path: Path) -> Sniffed:
    """torch.save's zip holds `<folder>/data.pkl`; any other zip (or a damaged one) is named as such."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        # Truncated: the central directory at the end is missing. It still starts like a torch.save zip.
        return Sniffed("torch-zip", "truncated or damaged: no zip directory at its end", damaged=True)
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return Sniffed("torch-zip")
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return Sniffed("zip", f"members: {shown or 'none'}")


def _looks_like_text(head: bytes) -> bool:
    try:  # incremental: a character cut at the end of the 512 bytes is not an error
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in decoded)


def _first_line(head: bytes) -> str:
    line = head.lstrip().split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return line[:60] + ("..." if len(line) > 60 else "")
