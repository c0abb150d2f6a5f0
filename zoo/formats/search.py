"""`python -m zoo search --dataset coco --where 'AP>0.7' --sort AP`: the documented rows as a pandas table, filtered
and sorted like `mim search`.

Conditions are parsed here (`COLUMN OP NUMBER`, OP one of > >= < <= == !=), never handed to `DataFrame.query`/`eval`:
a condition is data, not code. A row that lacks the metric (a PCK row under `AP>0.7`) does not match. Sorting puts
the best first (descending, NME ascending: zoo.evaluators.HIGHER_IS_BETTER); `--reverse` flips it.
pandas is imported inside `table`: `zoo` itself imports without it.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from zoo.errors import SearchError
from zoo.evaluators import HIGHER_IS_BETTER, METRIC_NAMES
from zoo.formats.ecosystem import model_name
from zoo.registry.schema import Registry, TopDownProtocol

#: Numeric columns a condition or sort may name, besides the metrics.
NUMERIC = ("width", "input_h", "input_w", "num_scales")
TEXT = ("name", "entry", "dataset", "split", "paradigm", "head", "boxes", "checkpoint")
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_CONDITION = re.compile(r"^\s*(?P<col>[A-Za-z0-9@._]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value:g}"


def parse_condition(text: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise SearchError(f"condition {text!r}; expected COLUMN OP NUMBER such as 'AP>0.7' or 'NME<=0.12'")
    column = _column(match["col"])
    if column not in METRIC_NAMES + NUMERIC:
        numeric = ", ".join(METRIC_NAMES + NUMERIC)
        raise SearchError(f"condition {text!r}: {column!r} is not numeric; use one of {numeric}")
    try:
        value = float(match["value"])
    except ValueError:
        raise SearchError(f"condition {text!r}: {match['value']!r} is not a number") from None
    return Condition(column, match["op"], value)


def _column(name: str) -> str:
    """A column by name, case-insensitive (ap50 -> AP50)."""
    for known in METRIC_NAMES + NUMERIC + TEXT:
        if known.lower() == name.lower():
            return known
    raise SearchError(f"unknown column {name!r}; expected one of {', '.join(METRIC_NAMES + NUMERIC + TEXT)}")


def table(registry: Registry):
    """One pandas row per documented result row: its distinct name, what it is, and every metric (NaN if absent)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise SearchError("`zoo search` needs pandas; install it with `pip install 'hrnet-zoo[zoo]'`") from exc
    rows = []
    for e in registry.entries.values():
        for r in e.results:
            rows.append(
                {
                    "name": model_name(r),
                    "entry": e.id,
                    "dataset": r.dataset,
                    "split": r.split,
                    "paradigm": e.paradigm,
                    "head": e.architecture.head,
                    "width": e.architecture.width,
                    "input_h": e.architecture.input_size[0],
                    "input_w": e.architecture.input_size[1],
                    "num_scales": len(r.protocol.scales),
                    "boxes": r.protocol.boxes.kind if isinstance(r.protocol, TopDownProtocol) else "none",
                    **{m: r.metrics.get(m, float("nan")) for m in METRIC_NAMES},
                    "checkpoint": e.checkpoint.url,
                }
            )
    return pd.DataFrame(rows, columns=[*TEXT[:7], *NUMERIC, *METRIC_NAMES, "checkpoint"])


def search(
    registry: Registry,
    *,
    dataset: str | None = None,
    where: list[str] = (),
    sort: str | None = None,
    reverse: bool = False,
):
    """The matching rows as a DataFrame; an unknown dataset, column or malformed condition raises SearchError."""
    df = table(registry)
    if dataset is not None:
        if dataset not in registry.datasets:
            raise SearchError(f"unknown dataset {dataset!r}; expected one of {', '.join(registry.datasets)}")
        df = df[df["dataset"] == dataset]
    for cond in (parse_condition(w) for w in where):
        df = df[_OPS[cond.op](df[cond.column], cond.value) & df[cond.column].notna()]
    if sort is not None:
        column = _column(sort)
        ascending = not HIGHER_IS_BETTER.get(column, True) if column in METRIC_NAMES else True
        df = df.sort_values(column, ascending=ascending != reverse, kind="stable", na_position="last")
    return df.reset_index(drop=True)


def format_table(df) -> str:
    """A compact text table: identity columns and the metrics any matching row has."""
    if df.empty:
        return "no row matches"
    metrics = [m for m in METRIC_NAMES if df[m].notna().any()]
    shown = df[["name", "dataset", "split", *metrics]]
    return shown.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.3f}")
