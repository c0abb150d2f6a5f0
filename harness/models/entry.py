"""`build_from_entry`: a registry entry's network, with the published or the user's own weights."""

from __future__ import annotations

import os
from pathlib import Path

from harness.checkpoints.safe_load import load_checkpoint
from harness.checkpoints.strict import load_state_dict_strict
from harness.errors import CheckpointError, HarnessError
from harness.models.posenet import PoseNet, build_model
from zoo.registry.schema import Entry, Registry


def resolve_entry(entry_id_or_entry: str | Entry, *, registry: Registry | None = None) -> Entry:
    """An Entry from itself or its id (the registry defaults to `zoo.load_registry()`)."""
    if isinstance(entry_id_or_entry, Entry):
        return entry_id_or_entry
    if registry is None:
        registry = default_registry()
    return registry.entry(entry_id_or_entry)


def default_registry() -> Registry:
    """`zoo.load_registry()`, imported late so that this package works before the loader exists."""
    import zoo

    loader = getattr(zoo, "load_registry", None)
    if loader is None:
        raise HarnessError("zoo.load_registry() is not available in this checkout: pass registry= or an Entry")
    return loader()


def cached_checkpoint(entry: Entry) -> Path | None:
    """The entry's published file if the store has it cached, else None (also when the store is absent)."""
    try:
        from harness.checkpoints.store import cached_path
    except ImportError:
        return None
    try:
        found = cached_path(entry.checkpoint)
    except Exception:  # the store's own errors (e.g. unverified file): treated as not cached here
        return None
    return Path(found) if found else None


def build_from_entry(
    entry_id_or_entry: str | Entry,
    *,
    checkpoint: str | os.PathLike | None = None,
    registry: Registry | None = None,
) -> PoseNet:
    """The entry's architecture with weights loaded strictly and safely, in eval mode.

    checkpoint: a `.pth` / `.safetensors` file (e.g. your own fine-tuned weights, to evaluate under the entry's
    protocol); None uses the entry's published file from the cache (`python -m harness fetch ID` puts it there).
    """
    entry = resolve_entry(entry_id_or_entry, registry=registry)
    path = Path(checkpoint) if checkpoint is not None else cached_checkpoint(entry)
    if path is None:
        raise CheckpointError(
            f"no checkpoint for {entry.id!r}: the published file is not cached. Run `python -m harness fetch "
            f"{entry.id}`, or pass checkpoint=PATH"
        )
    model = build_model(entry.architecture)
    load_state_dict_strict(model, load_checkpoint(path).state_dict)
    return model.eval()
