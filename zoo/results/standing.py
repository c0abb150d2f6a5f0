"""A row's standing: one documented row joined with one run of it and that run's verdict (torch-free, no I/O).

The README tables, reports/, the Hub model cards and `reproduce`'s console summary and exit status all show the same
join; it is built here once (`standing_of`) so that they cannot disagree about a row. `standings` gives every
documented row of a registry with its run of record (zoo.results.history.latest_by_row); the console builds the standing
of the run it has just made with `standing_of`. The fallbacks a page prints for a missing fact (a dash, "unknown") are
the pages' own: the properties here return None where a fact is absent, except where every reader says the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from zoo.registry.schema import DocumentedRow, Registry
from zoo.results import history
from zoo.results.record import RunRecord, counts_as_reproduction, data_label
from zoo.results.verdicts import RowVerdict, row_verdict


@dataclass(frozen=True)
class Standing:
    """`row`, the run that stands for it (None: not run) and the run's verdict against the documented numbers."""

    row: DocumentedRow
    run: RunRecord | None
    verdict: RowVerdict | None

    @property
    def label(self) -> str:
        """The verdict as every page shows it (zoo.results.history.shown_verdict: a fast-mode or informational run says
        so)."""
        if self.run is None or self.verdict is None:
            return "not run"
        return history.shown_verdict(self.verdict.label, self.run)

    @property
    def counts(self) -> bool:
        """Whether the run counts as a reproduction (zoo.results.record.standing); only such a run is published as
        reproduced numbers or can fail `reproduce`'s exit status."""
        return self.run is not None and counts_as_reproduction(self.run)

    @property
    def fails(self) -> bool:
        """A run that counts as a reproduction and is outside its tolerance: `reproduce` exits 1."""
        return self.counts and self.verdict is not None and self.verdict.verdict != "reproduced"

    @property
    def metrics(self) -> Mapping[str, float | None]:
        """The reproduced numbers ({} when not run)."""
        return self.run.metrics if self.run is not None else {}

    @property
    def data(self) -> str | None:
        """Which data the numbers were computed on (zoo.results.record.data_label); None when not run or not
        recorded."""
        return data_label(self.run) if self.run is not None else None

    @property
    def data_read(self) -> str:
        """How much the run read, when it recorded it ("" otherwise)."""
        data = self._data_provenance()
        if "files" not in data:
            return ""
        return f" ({data['files']} files read, {data.get('images')} images decoded, split {data.get('split')})"

    @property
    def data_differences(self) -> list[str]:
        """The files the run read whose bytes differ from the data lock (records before issue 22: lock_warnings)."""
        data = self._data_provenance()
        return list(data.get("differences") or data.get("lock_warnings") or [])

    def _data_provenance(self) -> Mapping[str, Any]:
        return (self.run.provenance.data if self.run is not None else None) or {}

    @property
    def device(self) -> str:
        """The device the run used, with its name where it has one ("unknown" when not recorded)."""
        if self.run is None:
            return "unknown"
        settings = self.run.provenance.settings or {}
        device = str(self.run.identity.device or settings.get("device") or "unknown")
        name = settings.get("device_name")
        return f"{device} ({name})" if name and name != device else device

    @property
    def commit(self) -> str:
        """The harness commit the run was made with, "(dirty)" when it had uncommitted changes."""
        git = self.run.provenance.git if self.run is not None else None
        sha = str((git.sha if git else None) or "unknown")
        return f"{sha} (dirty)" if git and git.dirty else sha

    @property
    def annotations_sha256(self) -> str | None:
        return (self.run.identity.annotations_sha256 or None) if self.run is not None else None

    def provenance(self) -> dict[str, Any]:
        """The run's verdict and provenance in a few plain fields (a Hub card's `dataset.args`)."""
        if self.run is None:
            return {}
        return {
            "verdict": self.label,
            "date": self.run.date,
            "device": self.device,
            "harness_commit": self.commit,
            "run_key": self.run.run_key,
            "protocol": self.run.protocol,
        }


def standing_of(row: DocumentedRow, run: RunRecord | None) -> Standing:
    """The one join: `row` with `run` (None: not run) and the verdict of the run against the documented numbers."""
    if run is None:
        return Standing(row, None, None)
    verdict = row_verdict(row.row_id, row.metrics, run.metrics, row.tolerances, partial=run.partial)
    return Standing(row, run, verdict)


def standings(registry: Registry, records: Iterable[RunRecord]) -> list[Standing]:
    """Every documented row of `registry` (in zoo.yaml's order) with its run of record under the published protocol
    (zoo.results.history.latest_by_row), or None."""
    of_record = history.latest_by_row(records)
    return [standing_of(row, of_record.get(row.row_id)) for entry in registry.entries.values() for row in entry.results]


def by_row(items: Iterable[Standing]) -> dict[str, Standing]:
    """row_id -> standing."""
    return {s.row.row_id: s for s in items}
