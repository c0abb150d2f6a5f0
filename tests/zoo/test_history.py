import json

import pytest

from zoo.results import history


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
    history.append(_rec(key="new", date="2026-03-01T00:00:00+00:00", metrics={"AP": 0.51}), tmp_path)
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


_IDENT = {"row_id": "e/r", "checkpoint_sha256": "ab12", "device": "cpu", "mode": "exact"}


def _run(key, date, ap=0.5, **ident):
    identity = {**_IDENT, **ident}
    return _rec(key=key, date=f"2026-0{date}-01T00:00:00+00:00", metrics={"AP": ap}, identity=identity)


def test_a_repeat_with_equal_identity_and_numbers_confirms_and_does_not_replace(tmp_path):
    history.append(_run("first", 1), tmp_path)
    # other code, packages or chunk layout (how the harness computed), same question, same numbers: a confirmation
    history.append(_run("again", 2, code={"digest": "x"}, chunks={"items_per_chunk": 8}), tmp_path)
    history.append(_run("third", 3), tmp_path)
    records = history.load(tmp_path)
    assert len(records) == 3  # the history keeps every repeat
    assert history.latest_by_row(records)["e/r"].run_key == "first"
    assert history.confirms(records[1], records[0]) and history.confirms(records[2], records[0])


def test_other_numbers_or_another_question_become_the_run_of_record(tmp_path):
    history.append(_run("first", 1), tmp_path)
    history.append(_run("other-ap", 2, ap=0.5000001), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "other-ap"
    history.append(_run("back", 3), tmp_path)  # equal to "first" but not to the run of record: it replaces it
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "back"
    history.append(_run("gpu", 4, device="cuda"), tmp_path)  # same numbers, another device: another question
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "gpu"
    history.append(_run("weights", 5, checkpoint_sha256="cd34"), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "weights"


def test_the_run_of_record_does_not_depend_on_the_order_records_are_given(tmp_path):
    history.append(_run("first", 1), tmp_path)
    history.append(_run("again", 2), tmp_path)
    records = history.load(tmp_path)
    assert history.latest_by_row(reversed(records))["e/r"].run_key == "first"


def test_a_confirmation_needs_the_same_per_keypoint_numbers(tmp_path):
    history.append({**_run("first", 1), "per_keypoint": {"nose": {"AP": 0.5}}}, tmp_path)
    history.append({**_run("again", 2), "per_keypoint": {"nose": {"AP": 0.6}}}, tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "again"


def _on(data: str | None, key: str, date: int) -> dict:
    """A run on pinned data with this lock digest (None: a run that recorded no data)."""
    rec = _run(key, date)
    if data is not None:
        rec["provenance"] = {"data": {"digest": data, "lock_digest": data, "differences": [], "split": "val"}}
    return rec


def test_a_repeat_on_other_data_is_not_a_confirmation(tmp_path):
    """The images are not in the run's identity: after an intended re-pin of changed images, a run with the same
    numbers on the new data becomes the run of record (its data label is the new lock's), instead of confirming."""
    history.append(_on("a" * 64, "first", 1), tmp_path)
    history.append(_on("a" * 64, "again", 2), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "first"  # same data: confirmed
    history.append(_on("b" * 64, "repinned", 3), tmp_path)
    assert history.latest_by_row(history.load(tmp_path))["e/r"].run_key == "repinned"


def test_a_run_on_data_that_differs_from_the_lock_never_becomes_the_run_of_record(tmp_path):
    history.append(_on("a" * 64, "first", 1), tmp_path)
    rotten = _on("a" * 64, "rotten", 2)
    rotten["provenance"]["data"].update(digest="c" * 64, differences=["x.jpg changed since the lock was pinned"])
    rotten["metrics"] = {"AP": 0.4}
    history.append(rotten, tmp_path)
    records = history.load(tmp_path)
    assert records[1].informational and "data differs from the data lock" in records[1].informational[0]
    assert history.latest_by_row(records)["e/r"].run_key == "first"
