"""The one inter-process lock of the harness: an exclusive flock() on a lock file, used by the checkpoint cache (one
fetch of a file at a time) and by `data fetch` (one fetch of a data root at a time).

The lock file stays after use: deleting it would let a third process lock a new file while the second still holds
the old one. A thread that already holds a lock enters it again at once (a `data fetch` holds the data root's lock
over the fetch and the check that follows it, and each takes it itself too). POSIX only; elsewhere nothing is
serialised (every publish stays an atomic rename).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import HarnessError

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: (thread id, lock file) of the locks held by this process: a nested `exclusive` of the same file is a no-op.
_held: set[tuple[int, str]] = set()


@contextmanager
def exclusive(lock_path: Path, *, waiting: str, unwritable: Callable[[OSError], HarnessError] | None) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (created if needed) for the block; when another process holds it, log
    `waiting` once and wait. A lock file that cannot be created raises `unwritable(exc)`, or, with None, the block
    runs without a lock."""
    key = (threading.get_ident(), os.path.abspath(lock_path))
    if fcntl is None or key in _held:  # no flock here, or this thread holds it already
        yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if unwritable is not None:
            raise unwritable(exc) from exc
        fd = None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s", waiting)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held.add(key)
        yield
    finally:
        _held.discard(key)
        os.close(fd)  # releases the lock
