"""The append-only history of evaluation results (one JSON file per run) that reports are rendered from.

Runs write `results/history/<date>_<row>_<runkey>.json` and never rewrite one; reports and README tables are
re-rendered from these files without re-running anything. torch-free.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

REPO = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1
_REQUIRED = ("schema_version", "run_key", "row_id", "entry", "protocol", "partial", "metrics", "date")


def default_history_dir() -> Path:
    return Path(os.environ.get("HRNET_ZOO_RESULTS", REPO / "results")) / "history"


class HistoryError(ZooError, ValueError):
    """A history file is malformed; the message names the file and field."""


@dataclass(frozen=True)
class RunRecord:
    path: Path
    data: dict[str, Any]

    @property
    def row_id(self) -> str:
        return self.data["row_id"]

    @property
    def partial(self) -> bool:
        return bool(self.data["partial"])

    @property
    def date(self) -> str:
        return self.data["date"]

    @property
    def metrics(self) -> dict[str, float]:
        return self.data["metrics"]


def record_filename(record: dict[str, Any]) -> str:
    """`<UTC date>_<row id with / as __>_<run key>.json` — sortable by date, unique per run."""
    stamp = re.sub(r"[^0-9T]", "", record["date"])[:15]
    row = record["row_id"].replace("/", "__")
    return f"{stamp}_{row}_{record['run_key']}.json"


def append(record: dict[str, Any], history_dir: Path | None = None) -> Path:
    """Add one run to the history as a new file; an existing record is never overwritten (append-only)."""
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise HistoryError(f"history record lacks {missing}; it was not written")
    folder = history_dir or default_history_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = record_filename(record)
    for n in range(1, 1000):
        # The same identity run twice within one second gets a suffix: every run keeps its own file.
        path = folder / (name if n == 1 else name.replace(".json", f"_{n}.json"))
        try:
            with open(path, "x") as f:  # "x": never replace an earlier run
                json.dump(record, f, indent=1, sort_keys=True, allow_nan=False)
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
        except (OSError, json.JSONDecodeError) as exc:
            raise HistoryError(f"{path}: cannot read history record: {exc}") from exc
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise HistoryError(f"{path}: missing field(s) {missing}")
        if data["schema_version"] != SCHEMA_VERSION:
            raise HistoryError(f"{path}: schema_version {data['schema_version']}, expected {SCHEMA_VERSION}")
        out.append(RunRecord(path, data))
    return sorted(out, key=lambda r: (r.date, r.path.name))


def latest_by_row(records: Iterable[RunRecord], *, protocol: str = "published") -> dict[str, RunRecord]:
    """The latest run per row for one protocol. A full run always wins over a partial one, whatever their dates:
    a --limit or sample run can never displace (or be mistaken for) a full reproduction. Likewise a run in a numeric
    mode that keeps the numbers (exact, tuned: docs/PERFORMANCE.md) wins over a later `--mode fast` run, whose
    metrics drift by design: a quick fast-mode look never replaces the reproduction of record."""
    best: dict[str, RunRecord] = {}
    for rec in records:
        if rec.data["protocol"] != protocol or rec.data.get("overrides"):
            continue
        cur = best.get(rec.row_id)
        if cur is None or _rank(rec) >= _rank(cur):
            best[rec.row_id] = rec
    return best


def numeric_mode(rec: RunRecord) -> str:
    """The run's numeric mode (records written before modes existed ran exact)."""
    return str((rec.data.get("identity") or {}).get("mode") or "exact")


def shown_verdict(label: str, rec: RunRecord) -> str:
    """A row's verdict label as reports and the README show it: a fast-mode run says so (its metrics drift by
    design, docs/PERFORMANCE.md)."""
    return f"{label} (fast mode)" if numeric_mode(rec) == "fast" else label


def _rank(rec: RunRecord) -> tuple:
    return (not rec.partial, numeric_mode(rec) != "fast", rec.date, rec.path.name)
