"""README tables generated from zoo.yaml (DESIGN.md principle 7: generated files are checked, never hand-edited).

The tables live in README.md between `<!-- zoo:tables:start -->` and `<!-- zoo:tables:end -->`; everything outside
the markers is left alone. Numbers are printed exactly as the seed pages print them (`DocumentedRow.metric_text`).

Once the result history (results/history/, zoo.results.history) holds a run of any row, the tables gain Reproduced /
Verdict columns and a Data column (which data the numbers were computed on), read from each row's standing
(zoo.results.standing), with a dash for rows that have no result yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import ZooError
from zoo.evaluators import METRIC_NAMES
from zoo.formats.render import markdown_env
from zoo.registry.schema import DocumentedRow, Protocol, Registry, TopDownProtocol
from zoo.results import history
from zoo.results.standing import Standing, by_row, standings

START = "<!-- zoo:tables:start -->"
END = "<!-- zoo:tables:end -->"


def default_readme() -> Path | None:
    """The README whose tables are generated: $HRNET_ZOO_README, else the checkout's README.md; None in an installed
    package (a README in the current folder is the user's, never ours to write)."""
    return settings.readme_file()


def chosen_readme(path: str | Path | None) -> Path:
    """`path`, else the default README; without one (an installed package, a history elsewhere), an error naming
    why and what to give."""
    chosen = Path(path) if path else default_readme()
    if chosen is None:
        if not settings.in_checkout():
            raise settings.not_in_checkout("README for the tables", "--readme", settings.README)
        raise settings.SettingError(f"no default README: {settings.readme_skipped()}; or pass --readme PATH")
    return chosen


TEMPLATE = "readme_tables.md.j2"
DASH = "–"


def render_tables(registry: Registry, *, reproduced: Sequence[Standing] | None = None) -> str:
    """The markdown between the markers (without them), one table per dataset that has documented rows; with the
    Reproduced / Verdict / Data columns when `reproduced` (the rows' standings) is given."""
    env = markdown_env()
    tables = table_view(registry, reproduced=reproduced)
    return env.get_template(TEMPLATE).render(tables=tables, show_reproduced=reproduced is not None).strip() + "\n"


def table_view(registry: Registry, *, reproduced: Sequence[Standing] | None = None) -> list[dict[str, Any]]:
    """The template's input: per dataset a title, its metric columns and one dict of cell texts per row."""
    shown = by_row(reproduced or ())
    tables = []
    for key, dataset in registry.datasets.items():
        rows = [(e, r) for e in registry.entries.values() for r in e.results if r.dataset == key]
        if not rows:
            continue
        present = {m for _, r in rows for m in r.metrics}
        metrics = [m for m in METRIC_NAMES if m in present]
        tables.append(
            {
                "title": f"{dataset.name} (`{key}`)",
                "metrics": metrics,
                "rows": [_row(entry, result, metrics, shown.get(result.row_id)) for entry, result in rows],
            }
        )
    return tables


def _row(entry, result: DocumentedRow, metrics: list[str], got: Standing | None) -> dict[str, Any]:
    h, w = entry.architecture.input_size
    p = result.protocol
    ran = got is not None and got.run is not None
    return {
        "entry": entry.id,
        "name": result.name,
        "split": result.split,
        "input": f"{h}x{w}",
        "boxes": boxes_summary(p),
        "flip": "yes" if p.flip else "no",
        "scales": ", ".join(f"{s:g}" for s in p.scales),
        "metrics": [result.metric_text.get(m, DASH) for m in metrics],
        "reproduced": _reproduced_cell(got.metrics if ran else {}, metrics),
        "verdict": got.label if ran else DASH,
        "data": (got.data if ran else None) or DASH,
        "url": _href(entry.checkpoint.url),
        "log_url": _href(entry.checkpoint.log_url),
    }


def _href(url: str | None) -> str | None:
    """A markdown link target: `file:REL/PATH` (a file shipped in the repository) becomes the relative path."""
    return url.removeprefix("file:") if url else url


def boxes_summary(protocol: Protocol) -> str:
    """`GT, pad 1.25`, `det COCO_val2017_..., pad 1.25`, or a dash for bottom-up rows (no boxes)."""
    if not isinstance(protocol, TopDownProtocol):
        return DASH
    boxes = protocol.boxes
    source = "GT" if boxes.kind == "gt" else f"det `{boxes.file}`"
    return f"{source}, pad {protocol.padding:g}"


def _reproduced_cell(values, metrics: list[str]) -> str:
    if not values:
        return DASH
    return " / ".join(f"{values[m]:.3f}" if m in values else DASH for m in metrics)


def splice(text: str, tables: str) -> str:
    """README text with the block between the markers replaced by `tables`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ZooError(f"README has no {START} ... {END} block; add both markers where the tables belong")
    return f"{text[: start + len(START)]}\n{tables}{text[end:]}"


def reproduced_from_history(
    registry: Registry, records: list[history.RunRecord] | None = None
) -> list[Standing] | None:
    """Every row's standing (zoo.results.standing.standings); None when no row of the registry has a run, so that the
    tables keep their documented-only shape until a result exists. `records=None` reads the default history."""
    records = history.load() if records is None else records
    out = standings(registry, records)
    return out if any(s.run is not None for s in out) else None


def readme_problems(
    registry: Registry, path: str | Path | None = None, *, records: list[history.RunRecord] | None = None
) -> list[str]:
    """Empty when the README's generated block matches zoo.yaml and the result history; otherwise what is wrong
    and what to run. `records=None` reads the default history (results/history/)."""
    path = chosen_readme(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{path}: cannot read ({exc.strerror}); expected the README with the generated tables"]
    try:
        fresh = splice(text, render_tables(registry, reproduced=reproduced_from_history(registry, records)))
    except ZooError as exc:
        return [f"{path}: {exc}"]
    if fresh != text:
        return [
            f"{path}: README tables are stale (they differ from what zoo.yaml generates); "
            "expected them regenerated: run `python -m zoo readme`"
        ]
    return []


def write_readme(
    registry: Registry, path: str | Path | None = None, *, records: list[history.RunRecord] | None = None
) -> bool:
    """Regenerate the tables in place (documented numbers, plus reproduced ones from the history); True when the
    file changed."""
    path = chosen_readme(path)
    text = path.read_text(encoding="utf-8")
    fresh = splice(text, render_tables(registry, reproduced=reproduced_from_history(registry, records)))
    if fresh == text:
        return False
    path.write_text(fresh, encoding="utf-8")
    return True
