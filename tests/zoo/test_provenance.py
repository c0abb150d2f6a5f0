"""The typed run identity and provenance (zoo/results/provenance.py): every committed record reads into them and writes
back byte for byte (absent keys stay absent, unknown keys are kept), and a field of the wrong type is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.errors import RecordError
from zoo.results.provenance import ABSENT, DataRead, Provenance, RunIdentity
from zoo.results.record import RunRecord

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted([*REPO.glob("results/history/*.json"), *REPO.glob("tests/fixtures/history/*.json")])


def _history_bytes(data: dict) -> str:
    """As zoo.results.history.append writes a record."""
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_record_round_trips_byte_for_byte(path):
    text = path.read_text()
    rec = RunRecord.from_dict(json.loads(text), path)
    assert isinstance(rec.identity, RunIdentity) and isinstance(rec.provenance, Provenance)
    assert _history_bytes(rec.to_dict()) == text
    # result.json (harness.results.json_bytes: indent 2, the writer's key order) reads back to the same data
    again = RunRecord.from_dict(json.loads(json.dumps(rec.to_dict(), indent=2)), path)
    assert again.to_dict() == rec.to_dict()


def test_committed_records_exist():
    assert len(COMMITTED) >= 10


def test_absent_stays_absent_and_null_stays_null():
    ident = RunIdentity.from_dict({"mode": "exact", "limit": None})
    assert ident.limit is None and ident.model_label is ABSENT and ident.code is ABSENT
    assert ident.to_dict() == {"mode": "exact", "limit": None}
    assert "model_label" not in ident and ident.get("model_label") is None


def test_unknown_keys_survive_a_round_trip():
    data = {"digest": "ab" * 32, "files": 3, "from_a_newer_harness": {"x": 1}}
    read = DataRead.from_dict(data)
    assert read.extra == {"from_a_newer_harness": {"x": 1}} and read.to_dict() == data


def test_typed_fields_and_the_mapping_view_agree():
    prov = Provenance.from_dict({"git": {"sha": "0123", "dirty": True}, "data": {"digest": "d", "differences": ["a"]}})
    assert prov.git.sha == "0123" and prov.git.dirty is True and prov.data.differences == ["a"]
    assert prov["git"]["sha"] == "0123" and dict(prov) == prov.to_dict()
    assert prov == {"git": {"sha": "0123", "dirty": True}, "data": {"digest": "d", "differences": ["a"]}}


@pytest.mark.parametrize(
    ("kind", "data", "where"),
    [
        (RunIdentity, {"limit": "all"}, "identity.limit should be int or null, got str"),
        (RunIdentity, {"code": {"digest": 3}}, "identity.code.digest should be str or null, got int"),
        (Provenance, {"git": {"dirty": "yes"}}, "git.dirty should be bool or null, got str"),
        (Provenance, {"checkpoint": {"size": True}}, "file.size should be int or null, got bool"),
        (Provenance, {"data": []}, "provenance.data should be an object, got list"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(kind, data, where):
    with pytest.raises(RecordError, match=where):
        kind.from_dict(data, "r.json")


def test_a_record_built_from_plain_mappings_is_typed():
    rec = RunRecord("k", "e/r", "e", "published", False, {}, "2026", identity={"mode": "fast"}, provenance={})
    assert isinstance(rec.identity, RunIdentity) and rec.mode == "fast"
