"""The append-only history of evaluation results (one JSON file per run) that reports are rendered from.

Runs write `results/history/<date>_<row>_<runkey>.json` and never rewrite one; reports and README tables are
re-rendered from these files without re-running anything. torch-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import HistoryError, RecordError
from zoo.registry.schema import RECORD_MODES
from zoo.results.record import RunRecord, counts_as_reproduction, data_label


def default_history_dir() -> Path:
    return settings.results_dir() / "history"


def record_filename(record: RunRecord) -> str:
    """`<UTC date>_<row id with / as __>_<run key>.json` — sortable by date, unique per run."""
    stamp = re.sub(r"[^0-9T]", "", record.date)[:15]
    row = record.row_id.replace("/", "__")
    return f"{stamp}_{row}_{record.run_key}.json"


def append(record: RunRecord | dict[str, Any], history_dir: Path | None = None) -> Path:
    """Add one run to the history as a new file; an existing record is never overwritten (append-only)."""
    if not isinstance(record, RunRecord):
        try:
            record = RunRecord.from_dict(record, "history record")
        except RecordError as exc:
            raise HistoryError(f"{exc}; it was not written") from None
    folder = history_dir or default_history_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = record_filename(record)
    for n in range(1, 1000):
        # The same identity run twice within one second gets a suffix: every run keeps its own file.
        path = folder / (name if n == 1 else name.replace(".json", f"_{n}.json"))
        try:
            with open(path, "x") as f:  # "x": never replace an earlier run
                json.dump(record.to_dict(), f, indent=1, sort_keys=True, allow_nan=False)
                f.write("\n")
            break
        except FileExistsError:
            continue
    else:
        raise HistoryError(f"{folder}: too many runs named {name}")
    return path


def load(history_dir: Path | None = None) -> list[RunRecord]:
    """Every record, oldest first. A malformed file is an error naming it (never silently skipped)."""
    folder = history_dir or default_history_dir()
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HistoryError(f"{path}: cannot read history record: {exc}") from exc
        try:
            out.append(RunRecord.from_dict(data, path))
        except RecordError as exc:
            raise HistoryError(str(exc)) from None
    return sorted(out, key=lambda r: (r.date, r.path.name if r.path else ""))


def latest_by_row(records: Iterable[RunRecord], *, protocol: str = "published") -> dict[str, RunRecord]:
    """The run of record of each row under one protocol. A run that counts as a reproduction
    (zoo.results.record.standing) always wins over one that does not, whatever their dates: a --limit or sample run, a
    `--mode fast` look (its metrics drift by design) or other weights can never displace, or be mistaken for, the
    reproduction of record. Among the others a full run wins over a partial one, and a later run over an earlier one,
    except that a run which `confirms` the run of record leaves it in place: reports, README tables and exports keep the
    first of equal runs (its date and harness sha), so repeating a run changes no generated file. Runs with overrides
    answer another question and are never shown for the documented row."""
    best: dict[str, RunRecord] = {}
    for rec in sorted(records, key=_when):
        if rec.protocol != protocol or rec.overrides:
            continue
        cur = best.get(rec.row_id)
        if cur is None or (_standing(rec) >= _standing(cur) and not confirms(rec, cur)):
            best[rec.row_id] = rec
    return best


#: Identity fields that say how the harness computed a run, not what was run: they key the resumable chunk cache
#: (code digest and numeric library versions, chunk layout, chunk file format). Runs differing only here, with the
#: same numbers, are the same result.
_HOW_COMPUTED = ("code", "chunks", "prediction_format")


def confirms(rec: RunRecord, of_record: RunRecord) -> bool:
    """Whether `rec` repeats `of_record`: the same question (row, protocol, identity apart from _HOW_COMPUTED: the
    data, weights, device kind and numeric mode), the same data as the data lock names it
    (zoo.results.record.data_label: after an intended re-pin the new data's run becomes the run of record), the same
    standing, and the very same numbers (metrics and per-keypoint, compared exactly). A repeat that confirms is kept in
    the history but is not the run of record."""
    return (
        rec.row_id == of_record.row_id
        and rec.protocol == of_record.protocol
        and dict(rec.overrides) == dict(of_record.overrides)
        and _standing(rec) == _standing(of_record)
        and _question(rec) == _question(of_record)
        and dict(rec.metrics) == dict(of_record.metrics)
        and dict(rec.per_keypoint) == dict(of_record.per_keypoint)
        and data_label(rec) == data_label(of_record)  # the images are not in the identity: the data lock's digest is
    )


def _question(rec: RunRecord) -> dict[str, Any]:
    return {k: v for k, v in rec.identity.items() if k not in _HOW_COMPUTED}


def numeric_mode(rec: RunRecord) -> str:
    """The run's numeric mode (records written before modes existed ran exact)."""
    return rec.mode


def shown_verdict(label: str, rec: RunRecord) -> str:
    """A row's verdict label as reports, the README and the console show it: a run that does not count as a
    reproduction says why in a word (zoo.results.record.standing)."""
    if rec.mode not in RECORD_MODES:
        return f"{label} (fast mode)"
    if not counts_as_reproduction(rec) and not rec.partial:
        return f"informational ({label})"
    return label


def _standing(rec: RunRecord) -> tuple[bool, bool, bool]:
    """How well a run can stand for its row: counts as a reproduction, then full, then a numeric mode of record."""
    return (counts_as_reproduction(rec), not rec.partial, rec.mode in RECORD_MODES)


def _when(rec: RunRecord) -> tuple[str, str]:
    return (rec.date, rec.path.name if rec.path else "")
