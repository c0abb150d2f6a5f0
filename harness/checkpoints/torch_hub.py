"""torch.hub's checkpoint folder as a source of the checkpoint store: a published file the user already has there
(MMPose, mmcv, mmengine and torchvision download into it under the published file name) is verified by hash like
any other file and reused without a second download.

Where: `checkpoints_dir()` is `torch.hub.get_dir()/checkpoints`, i.e. `$TORCH_HOME/hub/checkpoints`, `$TORCH_HOME`
defaulting to `$XDG_CACHE_HOME/torch`, `$XDG_CACHE_HOME` to `~/.cache`. It is computed here the way torch.hub
computes it (torch/hub.py `_get_torch_home`, `get_dir`), so the fetch path stays torch-free; when torch.hub is
already imported its `get_dir()` is asked instead, which also honours `torch.hub.set_dir()`.

Reuse: the file is hardlinked into our cache under a staging name (a copy when the two folders are on different
file systems), the staged file is hashed and, if it verifies, published like a download (cache.publish). The user's
file is only ever read: a hardlink shares its bytes, and nothing in the store writes a cached file in place (files
are replaced by rename, a damaged one renamed aside), so neither the link nor anything done to it later changes
torch.hub's copy. A file there that does not verify is ignored with one warning naming it, and the store goes on
to download.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from pathlib import Path

from harness.checkpoints.cache import CachePaths, discard, problems, publish
from harness.checkpoints.hashing import file_sha256
from zoo.registry.schema import Checkpoint

log = logging.getLogger(__name__)


def hub_dir_from_env() -> Path:
    """torch.hub.get_dir() without torch: the same expression over the same variables (no set_dir() override)."""
    torch_home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(torch_home)) / "hub"


def checkpoints_dir() -> Path:
    """The folder torch.hub.load_state_dict_from_url (and so mmcv / mmengine) downloads checkpoints into."""
    hub = sys.modules.get("torch.hub")  # already imported: ask it (set_dir() wins); never import torch for this
    base = Path(hub.get_dir()) if hub is not None and hasattr(hub, "get_dir") else hub_dir_from_env()
    return base / "checkpoints"


def candidate(checkpoint: Checkpoint) -> Path | None:
    """torch.hub's file of `checkpoint` (by its published name), if there is one."""
    path = checkpoints_dir() / checkpoint.filename
    return path if path.is_file() else None


def reuse(checkpoint: Checkpoint, paths: CachePaths) -> bool:
    """Publish torch.hub's copy of `checkpoint` into our cache at `paths.final` if it verifies; False (nothing
    changed anywhere, at most one warning) when there is none or it does not verify. Call with the file's lock held."""
    source = candidate(checkpoint)
    if source is None:
        return False
    staged = paths.final.with_name(f"{paths.final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        _stage(source, staged)
        actual, size = file_sha256(staged), staged.stat().st_size
    except OSError as exc:
        log.warning("cannot reuse %s from torch.hub's cache (%s); downloading instead", source, exc)
        discard(staged)
        return False
    if found := problems(actual, size, checkpoint):
        log.warning("ignoring %s in torch.hub's cache: not the published file (%s)", source, "; ".join(found))
        discard(staged)  # our staged name only: the user's file is left as it is
        return False
    try:
        publish(paths, staged, actual, source=f"torch.hub cache: {source}")
    finally:
        discard(staged)
    log.info("reused %s from torch.hub's cache (verified)", source)
    return True


def _stage(source: Path, staged: Path) -> None:
    """A hardlink (no second copy of the bytes) where the file systems allow it, else a copy."""
    try:
        os.link(source, staged)
    except OSError:
        shutil.copyfile(source, staged)
