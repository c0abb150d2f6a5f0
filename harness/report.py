"""Render reports/ from zoo.yaml and the result history: an index, one page per dataset, one plot per dataset.

torch-free: `python -m harness report [--check]` (nox -s report) re-renders without re-running anything, and
`--check` fails when a committed page is stale. Pages are generated files: never edit them by hand.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import jinja2

from zoo import settings
from zoo.formats.render import markdown_env
from zoo.registry.schema import DocumentedRow, Registry, TopDownProtocol
from zoo.results import history
from zoo.results.standing import Standing, standings

TEMPLATES = Path(__file__).parent / "templates"


def default_reports_dir() -> Path:
    return settings.reports_dir()


def _env() -> jinja2.Environment:
    env = markdown_env(TEMPLATES)
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    return env


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.{digits}f}"


def protocol_summary(result: DocumentedRow) -> str:
    p = result.protocol
    parts = []
    topdown = isinstance(p, TopDownProtocol)
    if topdown:
        parts.append("GT boxes" if p.boxes.kind == "gt" else f"detector boxes ({p.boxes.file})")
        parts.append(f"padding {p.padding:g}")
    parts.append("flip" + (" + shift" if topdown and p.shift_heatmap else "") if p.flip else "no flip")
    parts.append("scales " + ",".join(f"{s:g}" for s in p.scales))
    parts.append(p.evaluator.summary())
    parts.append(f"era {p.era.name}")
    return "; ".join(parts)


def _plot_data(rows: list[Standing]) -> list[tuple[str, str, float, float, str]]:
    """(row id, metric, reproduced - documented, tolerance, verdict) of every compared metric."""
    return [
        (r.row.row_id, m.name, m.delta, m.tolerance, m.verdict)
        for r in rows
        if r.verdict
        for m in r.verdict.metrics
        if not math.isnan(m.delta)
    ]


def _digest(data: list[tuple[str, str, float, float, str]]) -> str:
    """Pages embed this digest of their plot's data, so `--check` can tell a stale plot without comparing PNG
    bytes across matplotlib versions."""
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def _plot(data: list[tuple[str, str, float, float, str]], path: Path) -> None:
    """Horizontal bars of reproduced - documented per row and metric, coloured by verdict band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{row} {name}" for row, name, *_ in data]
    deltas = [d for _, _, d, _, _ in data]
    tol = max(t for _, _, _, t, _ in data)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(data) + 1.2))
    palette = {"reproduced": "tab:green", "drift": "tab:orange", "failed": "tab:red"}
    colors = [palette[v] for *_, v in data]
    ax.barh(range(len(data)), deltas, color=colors)
    ax.axvspan(-tol, tol, color="0.9", zorder=0)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(data)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("reproduced - documented (grey band: tolerance)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def render(registry: Registry, records: list[history.RunRecord], out_dir: Path, *, plots: bool = True) -> dict:
    """Every page as {relative path: text}. Plots are written to out_dir when `plots` (not in check mode)."""
    env = _env()
    rows = standings(registry, records)
    pages: dict[str, str] = {}
    by_dataset: dict[str, list[Standing]] = {}
    for r in rows:
        by_dataset.setdefault(r.row.dataset, []).append(r)
    for key, ds_rows in by_dataset.items():
        plot_name = f"{key}_delta.png"
        data = _plot_data(ds_rows)
        if plots and data:
            _plot(data, out_dir / plot_name)
        pages[f"{key}.md"] = env.get_template("report_dataset.md.j2").render(
            dataset=registry.datasets[key],
            rows=ds_rows,
            registry=registry,
            summary=protocol_summary,
            plot=plot_name if data else None,
            digest=_digest(data),
        )
    pages["index.md"] = env.get_template("report_index.md.j2").render(
        registry=registry, rows=rows, datasets=list(by_dataset)
    )
    return pages


def write(pages: dict[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages.items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def stale(pages: dict[str, str], out_dir: Path) -> list[str]:
    """Pages (and plots) that differ from what is on disk."""
    problems = []
    for name, text in pages.items():
        path = out_dir / name
        if not path.exists():
            problems.append(f"{path} is missing")
        elif path.read_text() != text:
            problems.append(f"{path} is stale")
        for line in text.splitlines():
            if line.startswith("![") and "](" in line:
                png = out_dir / line.split("](", 1)[1].rstrip(")")
                if not png.exists():
                    problems.append(f"{png} is missing")
    return problems
