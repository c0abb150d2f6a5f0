"""Image decoding with the reference's semantics, and a cache that decodes each image once for all its boxes.

PROTOCOLS.md §2.3 / §8 item 12: LoadImageFromFile decodes with OpenCV `imdecode(IMREAD_COLOR)` and converts BGR -> RGB;
the result is uint8 [H, W, 3]. (PROTOCOLS.md §10: JPEG decode is bit-identical across OpenCV, torchvision and PIL
on the samples, but OpenCV is the reference, so it is what we use.)

`recording()` notes the sha256 of the very bytes each `read_image` decodes: a run compares them with the data lock
(harness.engine), so an image changed in place, even by bit rot that keeps its size and mtime, cannot reach a verdict
unnoticed. Hashing costs ~0.1 ms per COCO image, next to ~5 ms to decode it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from harness.errors import DataError


def decode_image_bytes(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to RGB uint8 [H, W, 3] (grey and alpha inputs become 3-channel, as IMREAD_COLOR)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None:
        raise DataError(
            f"cannot decode image {name}: OpenCV could not read it as an image ({len(data)} bytes); "
            "check that the file is complete and not a Git LFS pointer, then re-download the dataset"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """Read and decode one image file to RGB uint8 [H, W, 3]. Missing or undecodable files raise DataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"image {path} does not exist (expected in {path.parent}); check the data root and the dataset layout"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    if _recorders:
        _note(str(path), data)
    return decode_image_bytes(data, name=str(path))


#: {path: sha256} maps being filled by `recording()` blocks (any thread's reads are noted in each).
_recorders: list[dict[str, str]] = []
_recorders_lock = threading.Lock()


def _note(path: str, data: bytes) -> None:
    sha = hashlib.sha256(data).hexdigest()
    with _recorders_lock:
        for seen in _recorders:
            seen[path] = sha


@contextmanager
def recording() -> Iterator[dict[str, str]]:
    """For the block: {path: sha256 of the bytes decoded} of every image `read_image` reads, in any thread (the
    top-down batches are prepared in worker threads)."""
    seen: dict[str, str] = {}
    with _recorders_lock:
        _recorders.append(seen)
    try:
        yield seen
    finally:
        with _recorders_lock:
            _recorders[:] = [r for r in _recorders if r is not seen]  # by identity: two empty maps are equal


class ImageCache:
    """Decodes each image once for all of its boxes, and drops it after its last planned use.

    `plan` lists the image paths in the order they will be asked for (one entry per box); an image is evicted when
    its planned uses are spent. Images not in the plan (or asked for more often) are still served, kept in a small
    LRU of `max_items` entries. Thread-safe: a worker pool may share one cache. `decodes` counts real decodes.
    """

    def __init__(self, plan: Iterable[str | Path] = (), *, max_items: int = 64) -> None:
        self._remaining: Counter = Counter(str(p) for p in plan)
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max_items = max(1, max_items)
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.decodes = 0

    def get(self, path: str | Path) -> np.ndarray:
        """The decoded RGB uint8 [H, W, 3] image (read-only: callers must not modify it)."""
        key = str(path)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # two workers asking for the same image decode it once
            with self._lock:
                image = self._images.get(key)
                if image is not None:
                    self._images.move_to_end(key)
            if image is None:
                image = read_image(key)
                image.flags.writeable = False
                with self._lock:
                    self.decodes += 1
                    self._images[key] = image
                    while len(self._images) > self._max_items:
                        self._images.popitem(last=False)
            with self._lock:
                if self._remaining[key] > 0:
                    self._remaining[key] -= 1
                    if self._remaining[key] == 0:
                        self._images.pop(key, None)
                        self._key_locks.pop(key, None)
        return image
