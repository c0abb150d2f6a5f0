"""A run's identity (what was run) and provenance (how it ran), typed, with a plain-data round trip (torch-free).

harness.identity and harness.engine build them as plain data (the run key is the hash of the identity's canonical
JSON); `RunRecord` (zoo.results.record) holds them as these types. Every record ever written reads back unchanged:
`from_dict(d).to_dict() == d` for every committed history record and result.json (tests/zoo/test_provenance.py).
That fixes three rules: a key absent from the file stays absent (`ABSENT`, not None: records written before a field
existed lack it, and a null is a value), a key this code does not know is kept as it was (`extra`: a newer harness's
field survives an older reader), and nested values are typed where every version wrote the same shape.

The types are also read-only mappings of their plain data (`ident["mode"]`, `prov.get("data")`), so code and tests
written against the dicts keep working; new code reads the attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from zoo.errors import RecordError


class _Absent:
    """The value of a field whose key the file did not have."""

    _instance: ClassVar[_Absent | None] = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()
_NONE = type(None)


_Kinds = dict[str, "tuple[type, ...] | type[PlainRecord]"]


class PlainRecord(Mapping):
    """A frozen dataclass of a JSON object's known keys (`_KINDS`: the JSON types each may hold, or a nested
    PlainRecord class) plus `extra`, the keys it does not know."""

    _KINDS: ClassVar[_Kinds] = {}
    _WHAT: ClassVar[str] = "object"

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = "run record") -> Any:
        if not isinstance(data, Mapping):
            raise RecordError(f"{source}: {cls._WHAT} should be an object, got {type(data).__name__}")
        known, extra = {}, {}
        for key, value in data.items():
            kind = cls._KINDS.get(key)
            if kind is None:
                extra[key] = value
            elif isinstance(kind, type) and issubclass(kind, PlainRecord):
                known[key] = value if value is None else kind.from_dict(value, f"{source}: {cls._WHAT}.{key}")
            elif not isinstance(value, kind) or (isinstance(value, bool) and bool not in kind):
                expected = " or ".join("null" if k is _NONE else k.__name__ for k in kind)
                raise RecordError(f"{source}: {cls._WHAT}.{key} should be {expected}, got {type(value).__name__}")
            else:
                known[key] = value
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The plain data this was read from (or would be written as): absent keys left out, unknown keys kept."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is ABSENT:
                continue
            out[f.name] = value.to_dict() if isinstance(value, PlainRecord) else value
        out.update(self.extra)
        return out

    # read-only mapping of the plain data
    def __getitem__(self, key: str) -> Any:
        if key in self._KINDS:
            value = getattr(self, key)
            if value is ABSENT:
                raise KeyError(key)
            return value
        return self.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def _opt(*kinds: type) -> tuple[type, ...]:
    return (*kinds, _NONE)


@dataclass(frozen=True, eq=False)
class FileRecord(PlainRecord):
    """An input file as a run recorded it: its portable path (zoo.results.portable), sha256 and size."""

    path: str | None = ABSENT
    sha256: str | None = ABSENT
    size: int | None = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {"path": _opt(str), "sha256": _opt(str), "size": _opt(int)}
    _WHAT: ClassVar[str] = "file"


@dataclass(frozen=True, eq=False)
class GitState(PlainRecord):
    """The harness's commit and whether the tree had uncommitted changes (None outside a git checkout)."""

    sha: str | None = ABSENT
    dirty: bool | None = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {"sha": _opt(str), "dirty": _opt(bool)}
    _WHAT: ClassVar[str] = "git"


@dataclass(frozen=True, eq=False)
class DataRead(PlainRecord):
    """Which data a run read, against the data lock (harness.data.lock.run_data). `lock_warnings`: records before
    issue 22 named the differing files so; their `images` was a mapping (count, list digest), today's is a count."""

    digest: str | None = ABSENT
    lock_digest: str | None = ABSENT
    split: str | None = ABSENT
    files: int | None = ABSENT
    images: int | Mapping[str, Any] | None = ABSENT
    differences: list[str] | None = ABSENT
    lock_warnings: list[str] | None = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {
        "digest": _opt(str),
        "lock_digest": _opt(str),
        "split": _opt(str),
        "files": _opt(int),
        "images": _opt(int, dict),
        "differences": _opt(list),
        "lock_warnings": _opt(list),
    }
    _WHAT: ClassVar[str] = "provenance.data"


@dataclass(frozen=True, eq=False)
class CodeState(PlainRecord):
    """The code a run's predictions came from: digest of the harness and zoo source, numeric library versions."""

    digest: str | None = ABSENT
    packages: Mapping[str, str] = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {"digest": _opt(str), "packages": (dict,)}
    _WHAT: ClassVar[str] = "identity.code"


@dataclass(frozen=True, eq=False)
class RunIdentity(PlainRecord):
    """What was run (harness.identity.run_identity): every field that can change a prediction. The run key is the
    hash of `to_dict()`. chunks, code and model_label are absent from records written before they existed."""

    prediction_format: int = ABSENT
    row_id: str = ABSENT
    protocol: str = ABSENT
    protocol_resolved: Mapping[str, Any] = ABSENT
    overrides: Mapping[str, Any] = ABSENT
    checkpoint_sha256: str | None = ABSENT
    annotations_sha256: str | None = ABSENT
    bbox_file_sha256: str | None = ABSENT
    limit: int | None = ABSENT
    device: str = ABSENT
    mode: str = ABSENT
    autocast_dtype: str | None = ABSENT
    crop_backend: str = ABSENT
    chunks: Mapping[str, Any] = ABSENT
    code: CodeState = ABSENT
    model_label: str | None = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {
        "prediction_format": (int,),
        "row_id": (str,),
        "protocol": (str,),
        "protocol_resolved": (dict,),
        "overrides": (dict,),
        "checkpoint_sha256": _opt(str),
        "annotations_sha256": _opt(str),
        "bbox_file_sha256": _opt(str),
        "limit": _opt(int),
        "device": (str,),
        "mode": (str,),
        "autocast_dtype": _opt(str),
        "crop_backend": (str,),
        "chunks": (dict,),
        "code": CodeState,
        "model_label": _opt(str),
    }
    _WHAT: ClassVar[str] = "identity"


@dataclass(frozen=True, eq=False)
class Provenance(PlainRecord):
    """How a run ran (harness.engine): commit, package versions, settings, launcher, the input files, counts, chunks
    and the data it read. `settings`, `counts` and `chunks` stay plain mappings: their keys follow the harness's
    settings and loaders, and the pages print them as they are."""

    git: GitState = ABSENT
    packages: Mapping[str, str] = ABSENT
    settings: Mapping[str, Any] = ABSENT
    launcher: Mapping[str, Any] = ABSENT
    checkpoint: FileRecord | None = ABSENT
    checkpoint_registry_prefix: str | None = ABSENT
    annotations: FileRecord | None = ABSENT
    bbox_file: FileRecord | None = ABSENT
    images_dir: str | None = ABSENT
    counts: Mapping[str, Any] = ABSENT
    chunks: Mapping[str, Any] = ABSENT
    data: DataRead | None = ABSENT
    extra: Mapping[str, Any] = field(default_factory=dict)
    _KINDS: ClassVar[_Kinds] = {
        "git": GitState,
        "packages": (dict,),
        "settings": (dict,),
        "launcher": (dict,),
        "checkpoint": FileRecord,
        "checkpoint_registry_prefix": _opt(str),
        "annotations": FileRecord,
        "bbox_file": FileRecord,
        "images_dir": _opt(str),
        "counts": (dict,),
        "chunks": (dict,),
        "data": DataRead,
    }
    _WHAT: ClassVar[str] = "provenance"
