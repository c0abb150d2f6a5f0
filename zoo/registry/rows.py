"""Reading documented result rows (zoo.yaml `entries[i].results[j]`) into records; their protocols are read by
zoo.registry.protocol_reader."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from zoo.evaluators import METRIC_NAMES
from zoo.registry.protocol_reader import ProtocolContext, apply_template, one_of, read_protocol
from zoo.registry.schema import Dataset, DocumentedRow
from zoo.registry.yamltree import Located, Problems, fields, get_float, get_str, join

_ROW_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class RowContext(ProtocolContext):
    """What a row is checked against: its entry and the registry-wide sections."""

    entry_id: str
    dataset: str | None
    datasets: Mapping[str, Dataset]
    templates: Mapping[str, Located]
    default_tolerances: Mapping[str, float]


def read_result(node: Located, path: str, ctx: RowContext, problems: Problems) -> DocumentedRow | None:
    f = fields(
        problems,
        node,
        path,
        required=("name", "dataset", "split", "metrics", "source", "protocol"),
        optional=("tolerances", "note"),
    )
    if f is None:
        return None
    before = len(problems.items)
    name = _row_name(f, path, problems)
    dataset, split = _dataset_split(f, path, ctx, problems)
    metrics, texts = _metrics(f.get("metrics"), join(path, "metrics"), problems)
    source, page = _source(f.get("source"), join(path, "source"), problems)
    protocol = None
    if "protocol" in f:
        resolved = apply_template(f["protocol"], join(path, "protocol"), ctx.templates, problems)
        if resolved is not None:
            protocol = read_protocol(resolved, join(path, "protocol"), ctx, problems)
    if protocol is not None and dataset is not None and protocol.evaluator.kind != ctx.datasets[dataset].evaluator:
        of_record = ctx.datasets[dataset].evaluator
        problems.add(
            join(path, "protocol"),
            f["protocol"].line,
            f"evaluator {protocol.evaluator.kind!r} for dataset {dataset!r} (its evaluator of record: {of_record!r})",
            f"evaluator kind {of_record!r} (zoo.yaml datasets: `evaluator`)",
        )
    if protocol is not None and metrics:
        allowed = protocol.evaluator.metrics
        wrong = [m for m in metrics if m not in allowed]
        if wrong:
            problems.add(
                join(path, "metrics"),
                f["metrics"].line,
                f"{', '.join(wrong)} cannot come from evaluator {protocol.evaluator.kind!r}",
                f"metrics among {', '.join(allowed)}",
            )
    tolerances = _tolerances(f.get("tolerances"), join(path, "tolerances"), metrics, ctx, problems, row_line=node.line)
    note = get_str(problems, f["note"], join(path, "note")) if "note" in f else ""
    if len(problems.items) > before or None in (name, dataset, split, source, protocol, note):
        return None
    return DocumentedRow(
        entry_id=ctx.entry_id,
        name=name,
        dataset=dataset,
        split=split,
        metrics=MappingProxyType(metrics),
        metric_text=MappingProxyType(texts),
        tolerances=MappingProxyType(tolerances),
        source=source,
        protocol=protocol,
        source_page=page,
        note=note,
    )


def _row_name(f: dict[str, Located], path: str, problems: Problems) -> str | None:
    if "name" not in f:
        return None
    name = get_str(problems, f["name"], join(path, "name"))
    if name is not None and not _ROW_NAME.match(name):
        problems.add(join(path, "name"), f["name"].line, f"bad row name {name!r}", "lowercase a-z, 0-9, '.', '_', '-'")
        return None
    return name


def _dataset_split(f: dict[str, Located], path: str, ctx: RowContext, problems: Problems):
    if "dataset" not in f or "split" not in f:
        return None, None
    dataset = get_str(problems, f["dataset"], join(path, "dataset"))
    split = get_str(problems, f["split"], join(path, "split"))
    if dataset is None or split is None:
        return None, None
    if dataset not in ctx.datasets:
        problems.add(join(path, "dataset"), f["dataset"].line, f"unknown dataset {dataset!r}", one_of(ctx.datasets))
        return None, None
    if ctx.dataset is not None and dataset != ctx.dataset:
        problems.add(
            join(path, "dataset"), f["dataset"].line, f"{dataset!r} differs from the entry's", repr(ctx.dataset)
        )
    splits = ctx.datasets[dataset].splits
    if split not in splits:
        problems.add(join(path, "split"), f["split"].line, f"unknown split {split!r} of {dataset!r}", one_of(splits))
        return dataset, None
    return dataset, split


def _metrics(node: Located | None, path: str, problems: Problems) -> tuple[dict[str, float], dict[str, str]]:
    if node is None:
        return {}, {}
    if not isinstance(node.value, dict) or not node.value:
        problems.add(
            path, node.line, "got no metric mapping", f"metric -> number, names among {', '.join(METRIC_NAMES)}"
        )
        return {}, {}
    values: dict[str, float] = {}
    texts: dict[str, str] = {}
    for name, item in node.value.items():
        if name not in METRIC_NAMES:
            close = difflib.get_close_matches(name, METRIC_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.add(join(path, name), node.key_line(name), f"unknown metric {name!r}{hint}", one_of(METRIC_NAMES))
            continue
        value = get_float(problems, item, join(path, name), minimum=0.0)
        if value is None:
            continue
        if not math.isfinite(value) or (name != "NME" and value > 1.0):
            problems.add(join(path, name), item.line, f"{item.text} is out of range", "a fraction in [0, 1]")
            continue
        values[name] = value
        texts[name] = item.text  # exactly as written, e.g. "0.870"
    return values, texts


def _source(node: Located | None, path: str, problems: Problems) -> tuple[str | None, str]:
    if node is None:
        return None, ""
    f = fields(problems, node, path, required=("seed",), optional=("page",))
    if f is None or "seed" not in f:
        return None, ""
    seed = get_str(problems, f["seed"], join(path, "seed"), expected="the seed page's file name")
    page = ""
    if "page" in f:
        page = get_str(problems, f["page"], join(path, "page"), expected="an https URL") or ""
        if page and not page.startswith("https://"):
            problems.add(join(path, "page"), f["page"].line, f"{page!r} is not https", "an https URL")
    return seed, page


def _tolerances(
    node: Located | None, path: str, metrics: Mapping[str, float], ctx: RowContext, problems: Problems, *, row_line: int
) -> dict[str, float]:
    out = {m: ctx.default_tolerances[m] for m in metrics if m in ctx.default_tolerances}
    if node is not None:
        if not isinstance(node.value, dict):
            problems.add(path, node.line, "got a non-mapping", "metric -> absolute tolerance")
        else:
            for name, item in node.value.items():
                if name not in metrics:
                    problems.add(
                        join(path, name), node.key_line(name), f"no metric {name!r} in this row", one_of(metrics)
                    )
                    continue
                value = get_float(problems, item, join(path, name), minimum=0.0)
                if value is not None:
                    out[name] = value
    for name in metrics:
        if name not in out:
            line = node.line if node is not None else row_line
            problems.add(path, line, f"no tolerance for {name!r}", "a default under the top-level `tolerances:`")
    return out
