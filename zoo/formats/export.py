"""Registry records -> plain JSON-ready data (dicts, lists, numbers, strings), for `python -m zoo ... --json`
and for reports that read the registry without importing the record classes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from zoo.registry.schema import DocumentedRow, Entry


def to_jsonable(obj: Any) -> Any:
    """Dataclasses become dicts of their fields, mappings dicts, tuples lists; scalars stay."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


def result_to_dict(result: DocumentedRow) -> dict[str, Any]:
    """A result row with its `row_id`; `metrics` maps AP/AP50/AP75/AR/AR50 or PCK@0.3/NME to numbers."""
    return {"row_id": result.row_id, **to_jsonable(result)}


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """An entry with its derived values (`paradigm`, `checkpoint.filename`, each row's `row_id`)."""
    data = to_jsonable(entry)
    data["paradigm"] = entry.paradigm
    data["checkpoint"]["filename"] = entry.checkpoint.filename
    data["results"] = [result_to_dict(r) for r in entry.results]
    return data
