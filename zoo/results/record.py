"""The run record: what one evaluation run wrote to result.json and to the history (torch-free).

The harness builds a `RunRecord` (harness.engine) and writes `to_dict()`; the history, reports, the README and
the exported cards read it back with `RunRecord.from_dict`, which checks every field's type and names the file and
field of a bad one. Version 1 records (written before the standing and the code digest were recorded) still read:
their standing is derived from their fields by the same rule (`standing`, below).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import RecordError
from zoo.registry.schema import RECORD_MODES
from zoo.results.provenance import Provenance, RunIdentity

#: Written by this code. Bump when a field changes meaning; readers accept every version in READABLE_VERSIONS.
RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class RunRecord:
    """One evaluation run: its identity (what was run), its numbers and its provenance (how it ran)."""

    run_key: str
    row_id: str
    entry: str
    protocol: str
    partial: bool
    metrics: Mapping[str, float | None]
    date: str
    schema_version: int = RECORD_VERSION
    dataset: str | None = None
    split: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    partial_reason: str | None = None
    per_keypoint: Mapping[str, Any] = field(default_factory=dict)
    #: What was run and how (zoo.results.provenance); a plain mapping given here is read into its type.
    identity: RunIdentity = field(default_factory=RunIdentity)
    provenance: Provenance = field(default_factory=Provenance)
    wall_time_s: float | None = None
    #: Why the run does not count as a reproduction of its documented row (() when it does): `standing`.
    informational: tuple[str, ...] = ()
    #: Where the record was read from (None for one built in memory); not part of the file.
    path: Path | None = field(default=None, compare=False)
    #: A version 1 file has no `informational`: it is derived on reading, and left out again on writing, so that
    #: every record reads back as the very bytes it was written as (tests/zoo/test_provenance.py).
    derived_informational: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, kind in (("identity", RunIdentity), ("provenance", Provenance)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                object.__setattr__(self, name, kind.from_dict(value, f"run record {self.row_id}"))

    @property
    def mode(self) -> str:
        """The numeric mode (records written before modes existed ran exact)."""
        return str(self.identity.mode or "exact")

    @property
    def data(self) -> dict[str, Any]:
        """The record as plain data (what templates read)."""
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _NOT_IN_FILE}
        out["informational"] = list(self.informational)
        if self.derived_informational:
            del out["informational"]
        return _plain(out)

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = "run record") -> RunRecord:
        if not isinstance(data, Mapping):
            raise RecordError(f"{source}: a run record is a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise RecordError(
                f"{source}: schema_version {version!r}, expected one of {list(READABLE_VERSIONS)} (written by a newer "
                "or older harness: update the harness, or move the file out of the history)"
            )
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in _NOT_IN_FILE:
                continue
            if f.name not in data:
                if f.name in _REQUIRED:
                    raise RecordError(f"{source}: missing field {f.name!r}")
                continue
            kwargs[f.name] = _checked(f.name, data[f.name], source)
        for name, kind in (("identity", RunIdentity), ("provenance", Provenance)):
            if name in kwargs:
                kwargs[name] = kind.from_dict(kwargs[name], source)
        rec = cls(**kwargs, path=Path(source) if isinstance(source, Path) else None)
        if "informational" not in data:  # v1: derive the standing by the one rule
            rec = dataclasses.replace(rec, informational=standing(rec), derived_informational=True)
        return rec


_NOT_IN_FILE = ("path", "derived_informational")
_REQUIRED = ("schema_version", "run_key", "row_id", "entry", "protocol", "partial", "metrics", "date")
_KINDS: dict[str, tuple[type, ...]] = {
    "run_key": (str,),
    "row_id": (str,),
    "entry": (str,),
    "protocol": (str,),
    "partial": (bool,),
    "metrics": (dict,),
    "date": (str,),
    "schema_version": (int,),
    "dataset": (str, type(None)),
    "split": (str, type(None)),
    "overrides": (dict,),
    "partial_reason": (str, type(None)),
    "per_keypoint": (dict,),
    "identity": (dict,),
    "provenance": (dict,),
    "wall_time_s": (int, float, type(None)),
    "informational": (list, tuple),
}


def _checked(name: str, value: Any, source: str | Path) -> Any:
    kinds = _KINDS[name]
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool) and int in kinds):
        expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise RecordError(f"{source}: field {name!r} should be {expected}, got {type(value).__name__}")
    if name == "metrics":
        for metric, v in value.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise RecordError(f"{source}: metric {metric!r} should be a number or null, got {v!r}")
    if name == "informational":
        return tuple(str(v) for v in value)
    return value


def _plain(obj: Any) -> Any:
    """Mappings/tuples as dicts/lists, NaN as null: the files stay strict JSON."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):
        return _plain(obj.item())  # numpy scalars, without importing numpy here
    return obj


# ---------------------------------------------------------------------------------------------------------------
# the one rule: does a run count as a reproduction of its documented row?


def standing(record: RunRecord) -> tuple[str, ...]:
    """Why `record` cannot stand as a reproduction of its documented row; () when it can.

    The one rule behind the history's choice of the run of record, reports, the README, the console summary and
    `reproduce`'s exit status. A run counts only when it ran the row as documented: no overrides, every image of the
    reference data (no --limit, no hand-picked annotation file), a numeric mode that keeps the reference's numbers,
    the published weights (the checkpoint's hash starts with the registry's prefix), and data whose bytes match the
    data lock (until the user re-pins on purpose). Anything else prints its deltas as information and never fails a
    reproduction.
    """
    reasons = []
    if record.overrides:
        reasons.append("overrides " + ", ".join(f"{k}={v}" for k, v in record.overrides.items()))
    if record.partial:
        reasons.append(f"partial run ({record.partial_reason or 'a subset of the data'})")
    if record.mode not in RECORD_MODES:
        reasons.append(f"--mode {record.mode} (its metrics drift by design, docs/PERFORMANCE.md)")
    prov = record.provenance
    prefix = prov.checkpoint_registry_prefix
    sha = prov.checkpoint.sha256 if prov.checkpoint else None
    if record.identity.model_label:
        reasons.append(f"in-memory model {record.identity.model_label!r}, not the published checkpoint")
    elif prefix and sha and not str(sha).startswith(str(prefix)):
        reasons.append(f"weights sha256 {str(sha)[:12]}... are not the published checkpoint ({prefix})")
    data = prov.data or None
    if data and (differ := data.differences or data.lock_warnings):  # lock_warnings: records before issue 22
        reasons.append(f"data differs from the data lock ({len(differ)} file(s), first: {differ[0]})")
    return tuple(reasons)


def data_label(record: RunRecord) -> str | None:
    """Which data the numbers were computed on, in a few characters (reports, the README): the data lock's digest
    of the split when every byte read matched it; else the digest of what was read, saying why it is not the lock's;
    None for a run that did not record it (hand-picked files, or a record older than the data lock)."""
    data = record.provenance.data
    if not data or not isinstance(data.digest, str):
        return None
    if data.differences:
        return f"`{data.digest[:12]}` (not the locked data)"
    if data.lock_digest:
        return f"`{str(data.lock_digest)[:12]}`"
    return f"`{data.digest[:12]}` (not pinned)"


def counts_as_reproduction(record: RunRecord) -> bool:
    return not record.informational
