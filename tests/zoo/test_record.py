"""The run record and the one verdict rule (issue 13/14): typed reading with named errors, version 1 records still
read, and `standing` says why a run does not count as a reproduction."""

from __future__ import annotations

import pytest

from zoo.errors import RecordError
from zoo.results import history
from zoo.results.record import RECORD_VERSION, RunRecord, counts_as_reproduction, standing


def _data(**kw):
    rec = {
        "schema_version": 1,
        "run_key": "k",
        "row_id": "e/r",
        "entry": "e",
        "protocol": "published",
        "partial": False,
        "metrics": {"AP": 0.5},
        "date": "2026-01-01T00:00:00+00:00",
        "provenance": {"checkpoint": {"sha256": "abcdef0123"}, "checkpoint_registry_prefix": "abcdef01"},
    }
    rec.update(kw)
    return rec


def test_v1_record_reads_and_gets_its_standing_by_the_rule():
    rec = RunRecord.from_dict(_data())
    assert rec.informational == () and counts_as_reproduction(rec)
    again = RunRecord.from_dict(rec.to_dict())
    assert again == rec and again.schema_version == 1
    assert RunRecord.from_dict(dict(rec.to_dict(), schema_version=RECORD_VERSION)).informational == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"overrides": {"flip": False}}, "overrides flip=False"),
        ({"partial": True, "partial_reason": "--limit 2: 2 of 3 images"}, "partial run (--limit 2: 2 of 3 images)"),
        ({"identity": {"mode": "fast"}}, "--mode fast"),
        ({"identity": {"model_label": "GT stand-in"}}, "in-memory model 'GT stand-in'"),
        (
            {"provenance": {"checkpoint": {"sha256": "ffff"}, "checkpoint_registry_prefix": "abcdef01"}},
            "are not the published checkpoint (abcdef01)",
        ),
    ],
    ids=["overrides", "partial", "fast", "in-memory", "other-weights"],
)
def test_standing_names_why_a_run_only_informs(change, reason):
    rec = RunRecord.from_dict(_data(**change))
    assert not counts_as_reproduction(rec)
    assert any(reason in r for r in standing(rec)), standing(rec)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 7}, "schema_version 7"),
        ({"metrics": {"AP": "0.5"}}, "metric 'AP' should be a number"),
        ({"partial": "no"}, "field 'partial' should be bool"),
        ({"run_key": None}, "field 'run_key' should be str"),
    ],
)
def test_malformed_record_is_named(tmp_path, change, message):
    (tmp_path / "x.json").write_text(__import__("json").dumps(_data(**change)))
    with pytest.raises(RecordError, match=message):
        history.load(tmp_path)


def test_other_weights_never_displace_the_reproduction_of_record(tmp_path):
    history.append(_data(run_key="real", date="2026-01-01T00:00:00+00:00"), tmp_path)
    other = {"checkpoint": {"sha256": "ffff"}, "checkpoint_registry_prefix": "abcdef01"}
    history.append(_data(run_key="mine", date="2026-02-01T00:00:00+00:00", provenance=other), tmp_path)
    records = history.load(tmp_path)
    assert history.latest_by_row(records)["e/r"].run_key == "real"
    mine = next(r for r in records if r.run_key == "mine")
    assert history.shown_verdict("reproduced", mine) == "informational (reproduced)"
