"""Atomic file writes, shared by every writer of the project (zoo's generated folders, the harness's results, run
folders, data lock and checkpoint sidecars): a reader never sees half a file, and a failed write leaves any earlier
file as it was (DESIGN.md principle 9).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def file_mode() -> int:
    """The mode an ordinary new file gets under the user's umask (mkstemp alone would leave 0600, hiding the file
    from the user's group)."""
    mask = os.umask(0o022)  # the only way to read the umask is to set it; set it straight back
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the same folder (created if needed) and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """`write_bytes_atomic` of UTF-8 text, written with "\\n" line ends on every platform."""
    write_bytes_atomic(path, text.encode("utf-8"))
