"""`python -m zoo export model-index OUTDIR`: OpenMMLab / Papers-with-Code metafiles (what `mim search` reads).

Written in MMPose's own vocabulary, so that its metafiles and these read side by side: OUTDIR/model-index.yml holds
the Collections as MMPose names them (one per paper: HRNet, HigherHRNet, DarkPose, UDP, Albumentations; Name, Paper
Title and URL) and imports one metafile per dataset, metafiles/<dataset>.yml, whose Models are one per
documented result row: Name, In Collection, Config, Weights, Metadata (MMPose's Architecture and Training Data, then
ours: entry, row, split, input size, the full protocol and its sentence, source page) and Results (Task, Dataset,
Metrics named as MMPose names them: AP@0.5, not AP50). Metric values are written exactly as the model-zoo page prints
them ("0.870" stays 0.870 in the file). Where these differ from MMPose's metafiles on purpose:
tests/zoo/test_mmpose_metafiles.py lists each difference with its reason (the Name is the row id, distinct for single-
and multi-scale rows of one checkpoint).
"""

from __future__ import annotations

from typing import Any

import yaml

from zoo.formats.ecosystem import (
    COLLECTIONS,
    architecture_tags,
    collection_of,
    exported_metric,
    model_name,
    protocol_words,
    weights_url,
)
from zoo.formats.export import to_jsonable
from zoo.formats.pages import bib_fields
from zoo.registry.schema import DocumentedRow, Entry, Registry

ROOT = "model-index.yml"
HEADER = "# Generated from zoo.yaml by `python -m zoo export model-index`. Edit zoo.yaml, not this file.\n"


class _MetricText(str):
    """A metric as printed ("0.870"): written as a plain YAML float with that exact spelling."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_MetricText, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def _dump(data: Any) -> str:
    return HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _without_none(data: Any) -> Any:
    """Evaluator and era fields that do not apply to the row are None: leave them out (a protocol record holds only
    its own paradigm's fields)."""
    if isinstance(data, dict):
        return {k: _without_none(v) for k, v in data.items() if v is not None}
    return data


def collections(registry: Registry) -> list[dict[str, Any]]:
    """The Collections the entries are filed under, in MMPose's order of fields, each with its paper."""
    names = dict.fromkeys(collection_of(e).name for e in registry.entries.values())
    out = []
    for name in names:
        c = COLLECTIONS[name]
        title = " ".join(bib_fields(registry.papers[c.paper]).get("title", c.paper).split())
        out.append({"Name": c.name, "Paper": {"Title": title, "URL": c.url}})
    return out


def model(entry: Entry, result: DocumentedRow, registry: Registry) -> dict[str, Any]:
    """One Model (a result row) of a metafile."""
    dataset = registry.datasets[result.dataset]
    h, w = entry.architecture.input_size
    metadata = {
        "Architecture": architecture_tags(entry),
        "Training Data": registry.datasets[entry.dataset].name,
        "Entry": entry.id,
        "Row": result.name,
        "Split": result.split,
        "Input Size (HxW)": f"{h}x{w}",
        "Checkpoint SHA256 Prefix": entry.checkpoint.sha256_prefix,
        "Protocol Summary": protocol_words(result.protocol),
        "Protocol": _without_none(to_jsonable(result.protocol)),
        "Papers": list(entry.papers),
        "Source": {"Seed": result.source, **({"Page": result.source_page} if result.source_page else {})},
    }
    if entry.checkpoint.log_url:
        metadata["Training Log"] = entry.checkpoint.log_url.removeprefix("file:")
    return {
        "Name": model_name(result),
        "In Collection": collection_of(entry).name,
        "Config": entry.config,
        "Metadata": metadata,
        "Results": [
            {
                "Task": dataset.task,
                "Dataset": dataset.name,
                "Metrics": {exported_metric(m): _MetricText(t) for m, t in result.metric_text.items()},
            }
        ],
        "Weights": weights_url(entry),
    }


def render(registry: Registry) -> dict[str, str]:
    """{relative path: text} of every metafile."""
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for entry in registry.entries.values():
        for result in entry.results:
            by_dataset.setdefault(result.dataset, []).append(model(entry, result, registry))
    files = {f"metafiles/{key}.yml": _dump({"Models": models}) for key, models in by_dataset.items()}
    root = {"Collections": collections(registry), "Import": sorted(files)}
    return {ROOT: _dump(root), **files}
