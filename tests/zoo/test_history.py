import json

import pytest

from zoo import history


def _rec(row="e/r", date="2026-01-01T00:00:00+00:00", partial=False, key="k1", protocol="published", **kw):
    rec = {
        "schema_version": 1,
        "run_key": key,
        "row_id": row,
        "entry": row.split("/")[0],
        "protocol": protocol,
        "partial": partial,
        "metrics": {"AP": 0.5},
        "date": date,
    }
    rec.update(kw)
    return rec


def test_append_is_append_only(tmp_path):
    p = history.append(_rec(), tmp_path)
    assert json.loads(p.read_text())["run_key"] == "k1"
    before = p.read_text()
    q = history.append(_rec(metrics={"AP": 0.7}), tmp_path)  # same identity, same second: a new file
    assert q != p and p.read_text() == before
    assert [r.metrics["AP"] for r in history.load(tmp_path)] == [0.5, 0.7]


def test_append_refuses_incomplete_record(tmp_path):
    rec = _rec()
    del rec["metrics"]
    with pytest.raises(history.HistoryError, match="metrics"):
        history.append(rec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_malformed_file_is_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(history.HistoryError, match=r"bad\.json"):
        history.load(tmp_path)


def test_full_run_wins_over_later_partial_run(tmp_path):
    history.append(_rec(key="full", date="2026-01-01T00:00:00+00:00"), tmp_path)
    history.append(_rec(key="part", date="2026-02-01T00:00:00+00:00", partial=True), tmp_path)
    history.append(_rec(row="e/other", key="p2", partial=True), tmp_path)
    latest = history.latest_by_row(history.load(tmp_path))
    assert latest["e/r"].data["run_key"] == "full"
    assert latest["e/other"].partial


def test_latest_full_run_by_date_and_protocol_filter(tmp_path):
    history.append(_rec(key="old", date="2026-01-01T00:00:00+00:00"), tmp_path)
    history.append(_rec(key="new", date="2026-03-01T00:00:00+00:00"), tmp_path)
    history.append(_rec(key="oracle", date="2026-04-01T00:00:00+00:00", protocol="mmpose-0.29"), tmp_path)
    history.append(_rec(key="noflip", date="2026-05-01T00:00:00+00:00", overrides={"flip": False}), tmp_path)
    records = history.load(tmp_path)
    assert history.latest_by_row(records)["e/r"].data["run_key"] == "new"
    assert history.latest_by_row(records, protocol="mmpose-0.29")["e/r"].data["run_key"] == "oracle"


def test_a_later_fast_mode_run_does_not_displace_the_run_of_record(tmp_path):
    def mode(m):
        return {"identity": {"mode": m}}

    history.append(_rec(key="exact", date="2026-01-01T00:00:00+00:00", **mode("exact")), tmp_path)
    history.append(_rec(key="fast", date="2026-02-01T00:00:00+00:00", **mode("fast")), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].data["run_key"] == "exact"
    # tuned keeps the numbers (same keypoints, proven): a later tuned run is the latest of record
    history.append(_rec(key="tuned", date="2026-03-01T00:00:00+00:00", **mode("tuned")), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].data["run_key"] == "tuned"
    # a fast run still shows where it is the only full run of its row
    history.append(_rec(row="e/only-fast", key="f2", **mode("fast")), tmp_path)
    history.append(_rec(row="e/only-fast", key="p", partial=True, date="2026-05-01T00:00:00+00:00"), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/only-fast"].data["run_key"] == "f2"
