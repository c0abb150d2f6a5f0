"""`python -m zoo import PAGE.md`: the registry entries and rows a model-zoo page implies.

Facts are taken as printed (zoo/formats/pages.py): the id from the checkpoint file name, metric text, ckpt/log URLs with
their hash prefix, bibtex keys. Everything else is inferred and carried as a `Guess` with its reason, never as a
fact: the dataset and split (from the caption and zoo.yaml's datasets), the row name, and the protocol template
(zoo.yaml's `protocols:` matched on paradigm, boxes, detector AP, metric family and sigmas, and on the variant words
of the file names: `VARIANT_MARKERS`; multi-scale factors from the caption).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import PageError, RegistryError
from zoo.evaluators import EVALUATORS
from zoo.formats.pages import METRIC_TEXT, Page, PageRow
from zoo.registry.load import registry_paths
from zoo.registry.protocol_reader import ProtocolContext, read_protocol
from zoo.registry.schema import DocumentedRow, Protocol, Registry, TopDownProtocol
from zoo.registry.yamltree import Problems, parse


@dataclass(frozen=True)
class Guess:
    """A value the page does not print; `reason` says what it was inferred from. `value` None: no guess."""

    value: Any
    reason: str


@dataclass(frozen=True)
class ImpliedRow:
    row: PageRow
    paradigm: Guess  # "topdown" | "bottomup"
    dataset: Guess
    split: Guess
    name: Guess
    template: Guess  # a zoo.yaml protocols: template name
    scales: tuple[float, ...] | None  # multi-scale factors printed in the caption, else None
    protocol: Protocol | None  # the template resolved, with the caption's scales and the overrides
    #: Top-down fields the row sets over its template, guessed from the page: DARK/UDP's modulation kernel (MMPose's
    #: 384x288 configs: 17) and fp16 (a `_fp16` config).
    overrides: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @property
    def entry_id(self) -> str:
        return self.row.entry_id

    @property
    def row_id(self) -> str:
        return f"{self.entry_id}/{self.name.value}"


def protocol_templates(registry: Registry, path: str | Path | None = None) -> dict[str, Protocol]:
    """zoo.yaml's `protocols:` templates, each resolved into a Protocol record the way the loader resolves rows."""
    zoo_path = registry_paths(path)[0]
    problems = Problems()
    root = parse(zoo_path.read_text(encoding="utf-8"), problems)
    nodes = root.value.get("protocols") if root is not None and isinstance(root.value, dict) else None
    if nodes is None or not isinstance(nodes.value, dict):
        return {}
    ctx = ProtocolContext(paradigm=None, num_keypoints=None, schemas=registry.schemas)
    out = {}
    for name, node in nodes.value.items():
        protocol = read_protocol(node, f"protocols.{name}", ctx, problems)
        if protocol is not None:
            out[name] = protocol
    if problems.items:
        raise RegistryError(problems.items, path=str(zoo_path))
    return out


def _word(text: str, word: str) -> bool:
    """`word` is named in `text` as a whole name: a hyphen joins words into another name (COCO-WholeBody-Face is not
    COCO), a full stop after it does not."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w]|-\w)", text, re.IGNORECASE) is not None


#: "evaluated on X" / "evaluate on X" / "tested on X": X is the dataset of the numbers, whatever else is named.
_EVALUATED_ON = re.compile(r"\b(?:evaluated?|tested)\s+on\s+(?:the\s+)?(?P<what>[^,.;()]+)", re.IGNORECASE)


def _paradigm(row: PageRow) -> Guess:
    where = f"{row.ckpt_url} {row.config_link}".lower()
    for marker in ("/bottom_up/", "associative_embedding", "/ae/", "higher_hrnet"):
        if marker in where:
            return Guess("bottomup", f"{marker.strip('/')!r} in the checkpoint URL or config link")
    return Guess("topdown", "no bottom-up marker (bottom_up, associative_embedding, AE) in the URL or config link")


def _dataset(row: PageRow, registry: Registry) -> Guess:
    evaluated = _EVALUATED_ON.search(row.caption)
    text = evaluated["what"].strip() if evaluated else row.caption
    hits = [key for key, ds in registry.datasets.items() if any(_word(text, w) for w in (key, ds.name) if w)]
    if evaluated:
        if len(hits) == 1:
            return Guess(hits[0], f"the caption says the rows are evaluated on {registry.datasets[hits[0]].name}")
        return Guess(None, f"the caption says the rows are evaluated on {text!r}: not exactly one zoo.yaml dataset")
    if len(hits) == 1:
        return Guess(hits[0], f"the caption names {registry.datasets[hits[0]].name}")
    found = f"datasets {hits}" if hits else "no dataset of zoo.yaml"
    return Guess(None, f"the caption {row.caption!r} names {found}")


def _split(row: PageRow, dataset: str | None, registry: Registry) -> Guess:
    if dataset is None:
        return Guess(None, "no dataset guessed")
    splits = list(registry.datasets[dataset].splits)
    if "Set" in row.cells:
        value = row.cells["Set"]
        return Guess(value if value in splits else None, f"the table's Set column says {value!r}")
    named = [s for s in splits if _word(row.caption, s)]
    if len(named) == 1:
        return Guess(named[0], f"the caption names {named[0]!r}")
    val = [s for s in splits if s.startswith("val")]
    if _word(row.caption, "validation") and len(val) == 1:
        return Guess(val[0], "the caption says validation")
    if len(splits) == 1:
        return Guess(splits[0], f"{dataset}'s only split in zoo.yaml")
    return Guess(None, f"the caption names none of {splits}")


def _scales(caption: str) -> tuple[tuple[float, ...] | None, str]:
    low = caption.lower()
    if "multi-scale" not in low or "without multi-scale" in low:
        return None, "single scale (the caption names no multi-scale test)"
    listed = re.search(r"\[([0-9.,\s]+)\]", caption)
    if listed is None:
        return None, "the caption says multi-scale but lists no scales"
    try:
        scales = tuple(float(s) for s in listed.group(1).split(",") if s.strip())
    except ValueError:  # "[1..2]": digits and dots that are no number
        return None, f"the caption's scales [{listed.group(1)}] are not numbers"
    return scales, f"multi-scale {list(scales)} from the caption"


def _boxes(caption: str) -> tuple[str, float | None, str]:
    """("gt" | "detector", detector AP or None, reason) for a top-down row."""
    low = caption.lower()
    if "detector" in low:
        ap = re.search(r"\bAP of ([0-9.]+)", caption)
        value = float(ap.group(1)) if ap else None
        return "detector", value, f"the caption names a detector{f' with AP {value:g}' if ap else ''}"
    if "ground-truth" in low or "ground truth" in low or "gt bbox" in low:
        return "gt", None, "the caption names ground-truth boxes"
    return "gt", None, "the caption names no boxes: ground-truth boxes assumed"


#: Words MMPose's config and checkpoint file names carry for a head or a processing variant with a protocol of its
#: own (hrnet_w32_coco_256x192_udp_regress, higher_hrnet32_coco_512x512_udp). A template serves a row only when its
#: name carries the same ones (td-coco-udp-regress, bu-coco-higherhrnet-udp): protocol fields alone cannot tell UDP
#: decoding from plain decoding, nor an HRNet AE row from a HigherHRNet one, so these are matched by name.
VARIANT_MARKERS = ("higherhrnet", "dark", "udp", "regress")
DECODING_MARKERS = frozenset({"dark", "udp", "regress"})


def _variant_markers(text: str) -> frozenset[str]:
    """The VARIANT_MARKERS in a file or template name; separators are ignored (higher_hrnet is higherhrnet)."""
    joined = re.sub(r"[^a-z0-9 ]", "", text.lower())
    return frozenset(m for m in VARIANT_MARKERS if m in joined)


def _by_variant(names: list[str], markers: frozenset[str]) -> list[str]:
    """The templates (fitting on protocol facts) that serve a row whose file names carry `markers`: those whose name
    carries the same ones; failing that, none when the row names a decoding variant (its numbers need that decoding),
    else those whose name carries no word the file names lack (a head word alone is not required in the name)."""
    same = [n for n in names if _variant_markers(n) == markers]
    if same or markers & DECODING_MARKERS:
        return same
    return [n for n in names if _variant_markers(n) <= markers]


def _template(row, paradigm, dataset, registry, templates) -> tuple[Guess, str]:
    """The template guess and the row-name basis ("gt-bbox", "det-ap56", ...) for top-down rows."""
    box_kind, ap, box_reason = _boxes(row.caption) if paradigm == "topdown" else ("", None, "")
    name = "gt-bbox" if box_kind == "gt" else (f"det-ap{int(ap)}" if ap is not None else "det")
    if dataset is None:
        # A template is a dataset's protocol: none is guessed for a dataset zoo.yaml does not know.
        return Guess(None, "no dataset recognised, so no protocol template"), name
    # The dataset's evaluator of record scores its rows (COCO's and CrowdPose's vocabularies overlap, so the metric
    # names alone cannot tell the kind).
    kind = registry.datasets[dataset].evaluator
    if not set(row.metrics) <= set(EVALUATORS[kind].metrics):
        return Guess(None, f"the metrics {list(row.metrics)} are not all {dataset}'s evaluator's ({kind})"), name
    schema = registry.datasets[dataset].keypoint_schema

    def fits(p: Protocol) -> bool:
        if p.paradigm != paradigm or p.evaluator.kind != kind:
            return False
        if p.evaluator.sigmas_schema not in (None, schema):
            return False
        if isinstance(p, TopDownProtocol):
            if p.boxes.kind != box_kind:
                return False
            if ap is not None and f"AP_H_{int(ap)}" not in (p.boxes.file or ""):
                return False
        return True

    markers = _variant_markers(f"{row.config_link.rsplit('/', 1)[-1]} {row.ckpt_url.rsplit('/', 1)[-1]}")
    hits = _by_variant([name for name, p in templates.items() if fits(p)], markers)
    uses_sigmas = any(p.evaluator.sigmas_schema for p in templates.values() if p.evaluator.kind == kind)
    basis = f"{paradigm}, {kind}" + (f" with {schema} sigmas" if uses_sigmas else "")
    basis += f", {box_reason}" if box_reason else ""
    said = "/".join(m for m in VARIANT_MARKERS if m in markers)
    basis += f", {said} in the file names" if said else ", no variant word in the file names"
    if len(hits) == 1:
        return Guess(hits[0], f"the only template for {basis}"), name
    found = f"templates {hits}" if hits else "no template"
    return Guess(None, f"{found} for {basis}"), name


def imply(page: Page, registry: Registry, templates: Mapping[str, Protocol]) -> list[ImpliedRow]:
    """Every result row of the page with its guesses."""
    out = []
    for row in page.rows:
        paradigm = _paradigm(row)
        dataset = _dataset(row, registry)
        split = _split(row, dataset.value, registry)
        template, td_name = _template(row, paradigm.value, dataset.value, registry, templates)
        scales, scale_reason = _scales(row.caption)
        if "Set" in row.cells:
            name = Guess(row.cells["Set"], "the table's Set column")
        elif paradigm.value == "bottomup":
            name = Guess("multi-scale" if scales else "single-scale", scale_reason)
        else:
            name = Guess(td_name, template.reason)
        protocol = templates.get(template.value) if template.value else None
        if protocol is not None and scales:
            protocol = dataclasses.replace(protocol, scales=scales)
        overrides = _overrides(row, protocol)
        if overrides:
            protocol = dataclasses.replace(protocol, **overrides)
        out.append(ImpliedRow(row, paradigm, dataset, split, name, template, scales, protocol, overrides))
    return out


def _overrides(row, protocol: Protocol | None) -> dict[str, object]:
    """Top-down fields a row sets over its template. MMPose's configs draw targets with sigma 2 on 64x48 heatmaps and
    sigma 3 on 96x72 ones (inputs of 384x288) and modulate DARK/UDP decoding with a kernel of 6 * sigma - 1, 11 or 17
    (PROTOCOLS.md §3.1); a config named `_fp16` ran the model in half precision (§3.2)."""
    if not isinstance(protocol, TopDownProtocol):
        return {}
    out: dict[str, object] = {}
    if protocol.decoder != "default":
        kernel = 17 if row.input_size[0] >= 384 else 11
        if kernel != protocol.kernel:
            out["kernel"] = kernel
    names = f"{row.config_link.rsplit('/', 1)[-1]} {row.ckpt_url.rsplit('/', 1)[-1]}"
    if "_fp16" in names and protocol.precision != "fp16":
        out["precision"] = "fp16"
    return out


def registry_row(registry: Registry, implied: ImpliedRow) -> DocumentedRow | None:
    entry = registry.entries.get(implied.entry_id)
    return next((r for r in entry.results if r.name == implied.name.value), None) if entry else None


def protocol_agreement(implied: ImpliedRow, registry: Registry) -> str:
    """'' when the guessed protocol equals zoo.yaml's resolved protocol of the same row, else what differs."""
    known = registry_row(registry, implied)
    if known is None:
        return "no zoo.yaml row to compare with"
    if implied.protocol is None:
        return f"no protocol guessed; zoo.yaml has one for {known.row_id}"
    if implied.protocol == known.protocol:
        return ""
    fields = [f.name for f in dataclasses.fields(known.protocol)]
    differ = [f for f in fields if getattr(implied.protocol, f, None) != getattr(known.protocol, f)]
    return f"differs from zoo.yaml's {known.row_id} in {', '.join(differ)}"


def entry_papers(page: Page, dataset: str | None, registry: Registry) -> tuple[list[str], Guess | None]:
    """The page's bibtex keys in page order, and the dataset's paper (a guess) when the page has no DATASET block."""
    keys = list(dict.fromkeys(b.key for b in page.papers))
    if dataset is None or any(b.role == "DATASET" for b in page.papers):
        return keys, None
    paper = registry.datasets[dataset].paper
    if paper in keys:
        return keys, None
    return keys, Guess(paper, f"the page has no DATASET bibtex block; {dataset}'s paper in zoo.yaml")


# How the output is emitted, and why this way. Page text (cells, captions, bibtex keys, file names) must never become
# YAML structure (a metric cell `0.323, XX: 1` once added a metric; `!!python/...` was printed as a tag). A
# comment-preserving emitter (ruamel.yaml) would speak YAML 1.2, where `no` and `on` are strings, while zoo.yaml is
# read by PyYAML as YAML 1.1, where they are booleans: the emitter's idea of a safe plain scalar is not the loader's.
# So the lines keep their template (the `# guess:` comments and the metric text as printed are ours to place), and
# every value in them is emitted by PyYAML itself, the library the registry's loader reads with, then read back by it
# and compared (`_s`, `_metric`); comments are made single-line and printable (`_comment`).


def _s(value: str | None) -> str:
    """One scalar for a template line: PyYAML picks the style (plain when it reads back the same, else quoted) as
    inside a flow collection, so it is valid in `[...]`, `{...}` and after `key: `; never more than one line."""
    if value is None:
        return "null"
    text = yaml.safe_dump([value], default_flow_style=True, width=math.inf, allow_unicode=False).strip()
    if "\n" in text:  # a line break in the value: a double-quoted scalar spells it as an escape
        text = yaml.safe_dump([value], default_style='"', default_flow_style=True, width=math.inf).strip()
    if yaml.safe_load(text) != [value]:  # the loader's own reading; cannot differ, but the output must not lie
        raise PageError(f"cannot write {value!r} as a YAML string that reads back unchanged")
    return text[1:-1]


def _metric(text: str, where: str) -> str:
    """A metric exactly as printed ("0.870" stays "0.870", a plain YAML number); pages.py refused any other cell."""
    if not METRIC_TEXT.fullmatch(text) or not isinstance(yaml.safe_load(text), (int, float)):
        raise PageError(f"{where}: metric {text!r} is not a number as the pages print them, such as 0.870")
    return text


def _number(x: float) -> str:
    """A number as short as it reads back unchanged (2, 0.5); PyYAML's spelling where YAML 1.1 would read the
    short one otherwise (1e-05 is a string in YAML 1.1)."""
    text = f"{x:g}"
    return text if yaml.safe_load(text) == x else yaml.safe_dump([x], default_flow_style=True).strip()[1:-1]


def _comment(text: str) -> str:
    """Comment text on one line: a line break (or any non-printable character) would end the comment and let the
    rest of the text be read as YAML; such characters are written as Python escapes instead."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _guess(g: Guess) -> str:
    return _comment(f"  # guess: {g.reason}" if g.value is not None else f"  # NO GUESS: {g.reason}")


def render(page: Page, implied: list[ImpliedRow], registry: Registry) -> str:
    """YAML (pasteable into zoo.yaml's `entries:`) with every inferred value commented `# guess: why`."""
    checkpoints = len({r.entry_id for r in implied})
    bibtex = ", ".join(f"{b.key} ({b.role or 'no role'})" for b in page.papers) or "none"
    lines = [
        _comment(f"# zoo import {page.name}: {len(implied)} row(s), {checkpoints} checkpoint(s)."),
        "# Values marked `# guess:` are inferred (caption, zoo.yaml's datasets and protocol templates), not printed",
        "# on the page: check each before use. Metrics, URLs, ids and bibtex keys are exactly as printed.",
        _comment(f"# bibtex on the page: {bibtex}"),
        *(_comment(f"# {s.describe()}") for s in page.skipped),
    ]
    by_entry: dict[str, list[ImpliedRow]] = {}
    for item in implied:
        by_entry.setdefault(item.entry_id, []).append(item)
    for entry_id, items in by_entry.items():
        row, first = items[0].row, items[0]
        keys, extra = entry_papers(page, first.dataset.value, registry)
        papers = f"papers: [{', '.join(map(_s, keys))}]"
        if extra is not None:
            papers = f"papers: [{', '.join(map(_s, [*keys, extra.value]))}]"
            papers += _comment(f"  # guess for {extra.value}: {extra.reason}")
        h, w = row.input_size
        lines += [
            f"- id: {_s(entry_id)}",
            "  checkpoint:",
            f"    url: {_s(row.ckpt_url)}",
            f"    sha256_prefix: {_s(row.sha256_prefix)}",
            *([f"    log_url: {_s(row.log_url)}"] if row.log_url else []),
            f"  input_size: [{h}, {w}]  # (H, W): the page prints {h}x{w}",
            _comment(f"  # the page's config link: {row.config_link or '(none)'}"),
            f"  paradigm: {_s(first.paradigm.value)}" + _guess(first.paradigm),
            f"  {papers}",
            f"  dataset: {_s(first.dataset.value)}" + _guess(first.dataset),
            "  results:",
        ]
        for item in items:
            lines += _render_row(item, page, registry)
    return "\n".join(lines) + "\n"


def _render_row(item: ImpliedRow, page: Page, registry: Registry) -> list[str]:
    where = item.row.where
    metrics = ", ".join(f"{_s(m)}: {_metric(t, where)}" for m, t in item.row.metrics.items())  # text as printed
    protocol = f"{{base: {_s(item.template.value)}"
    if item.scales:
        protocol += f", scales: [{', '.join(map(_number, item.scales))}]"
    for key, value in item.overrides.items():
        protocol += f", {key}: {value}"
    protocol += "}"
    agreement = protocol_agreement(item, registry) if item.template.value else ""
    check = "; agrees with zoo.yaml" if item.template.value and not agreement else f"; FLAGGED: {agreement}"
    scale_note = f"; {_scales(item.row.caption)[1]}" if item.scales else ""
    return [
        f"    - name: {_s(item.name.value)}" + _guess(item.name),
        f"      dataset: {_s(item.dataset.value)}" + _guess(item.dataset),
        f"      split: {_s(item.split.value)}" + _guess(item.split),
        f"      metrics: {{{metrics}}}",
        f"      source: {{seed: {_s(page.name)}}}" + _comment(f"  # {where}, table {item.row.caption!r}"),
        f"      protocol: {protocol if item.template.value else 'null'}"
        + _guess(item.template)
        + _comment(scale_note + check if item.template.value else ""),
    ]


def to_json(page: Page, implied: list[ImpliedRow], registry: Registry) -> dict[str, Any]:
    """The same as `render`, as data: every guess is {"value": ..., "guess": reason}."""

    def g(x: Guess) -> dict[str, Any]:
        return {"value": x.value, "guess": x.reason}

    return {
        "page": page.name,
        "papers": [{"key": b.key, "role": b.role, "url": b.url} for b in page.papers],
        "skipped_tables": [{"line": s.line, "caption": s.caption, "columns": list(s.columns)} for s in page.skipped],
        "rows": [
            {
                "entry_id": i.entry_id,
                "checkpoint": {"url": i.row.ckpt_url, "sha256_prefix": i.row.sha256_prefix, "log_url": i.row.log_url},
                "input_size": list(i.row.input_size),
                "metrics": dict(i.row.metrics),
                "line": i.row.line,
                "caption": i.row.caption,
                "paradigm": g(i.paradigm),
                "dataset": g(i.dataset),
                "split": g(i.split),
                "name": g(i.name),
                "protocol": {
                    "value": {"base": i.template.value, **({"scales": list(i.scales)} if i.scales else {})},
                    "guess": i.template.reason,
                    "zoo_yaml": protocol_agreement(i, registry) or "agrees",
                },
            }
            for i in implied
        ],
    }
