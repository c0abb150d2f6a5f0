"""Reading documented result rows and their protocols (zoo.yaml `entries[i].results[j]`) into records.

A row's `protocol:` may name a template from the top-level `protocols:` section with `base:`; the row's own fields
are merged over it key by key (nested mappings merge, everything else replaces), so the record is fully resolved.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from zoo.rules import scales_problem
from zoo.schema import (
    COCO_METRICS,
    METRIC_NAMES,
    PCK_METRICS,
    BottomUpProtocol,
    BoxSource,
    Dataset,
    Era,
    Evaluator,
    KeypointSchema,
    Paradigm,
    Protocol,
    Result,
    TopDownProtocol,
)
from zoo.yamltree import (
    Located,
    Problems,
    fields,
    get_bool,
    get_choice,
    get_float,
    get_int,
    get_list,
    get_str,
    join,
)

_TOPDOWN_ONLY = ("boxes", "padding", "shift_heatmap", "vis_thr", "oks_nms_thr")
_BOTTOMUP_ONLY = ("max_num_people", "detection_threshold", "tag_threshold", "nms_kernel", "adjust", "refine")
_ROW_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_METRICS_OF = {"coco_keypoints": COCO_METRICS, "pck_nme": PCK_METRICS}


@dataclass(frozen=True)
class RowContext:
    """What a row is checked against: its entry and the registry-wide sections."""

    entry_id: str
    paradigm: Paradigm | None
    num_keypoints: int | None
    dataset: str | None
    datasets: Mapping[str, Dataset]
    schemas: Mapping[str, KeypointSchema]
    templates: Mapping[str, Located]
    default_tolerances: Mapping[str, float]


def merge(base: Located, over: Located) -> Located:
    """`over` merged onto `base`: mappings key by key (recursively), anything else replaced."""
    if not (isinstance(base.value, dict) and isinstance(over.value, dict)):
        return over
    value = dict(base.value)
    lines = dict(base.key_lines)
    for key, item in over.value.items():
        value[key] = merge(value[key], item) if key in value else item
        lines[key] = over.key_line(key)
    return Located(value, over.line, key_lines=lines)


def apply_template(node: Located, path: str, templates: Mapping[str, Located], problems: Problems):
    """The row's protocol mapping with its `base:` template merged under it (YAML level), or None after reporting."""
    if not isinstance(node.value, dict):
        problems.add(path, node.line, "got a non-mapping", "a mapping of protocol fields, optionally with base:")
        return None
    if "base" not in node.value:
        return node
    name = get_str(problems, node.value["base"], join(path, "base"), expected="the name of a protocols: template")
    if name is None:
        return None
    if name not in templates:
        close = difflib.get_close_matches(name, list(templates), n=3)
        problems.add(
            join(path, "base"),
            node.value["base"].line,
            f"unknown protocol template {name!r}",
            f"one of {', '.join(templates) or '(none defined)'}" + (f" (did you mean {close[0]!r}?)" if close else ""),
        )
        return None
    own = {k: v for k, v in node.value.items() if k != "base"}
    return merge(templates[name], Located(own, node.line, key_lines=node.key_lines))


def read_result(node: Located, path: str, ctx: RowContext, problems: Problems) -> Result | None:
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
    if protocol is not None and metrics:
        allowed = _METRICS_OF[protocol.evaluator.kind]
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
    return Result(
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
        problems.add(join(path, "dataset"), f["dataset"].line, f"unknown dataset {dataset!r}", _one_of(ctx.datasets))
        return None, None
    if ctx.dataset is not None and dataset != ctx.dataset:
        problems.add(
            join(path, "dataset"), f["dataset"].line, f"{dataset!r} differs from the entry's", repr(ctx.dataset)
        )
    splits = ctx.datasets[dataset].splits
    if split not in splits:
        problems.add(join(path, "split"), f["split"].line, f"unknown split {split!r} of {dataset!r}", _one_of(splits))
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
            problems.add(join(path, name), node.key_line(name), f"unknown metric {name!r}{hint}", _one_of(METRIC_NAMES))
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
                        join(path, name), node.key_line(name), f"no metric {name!r} in this row", _one_of(metrics)
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


def read_protocol(node: Located, path: str, ctx: RowContext, problems: Problems) -> Protocol | None:
    f = fields(
        problems,
        node,
        path,
        required=("paradigm", "flip", "scales", "evaluator", "era"),
        optional=_TOPDOWN_ONLY + _BOTTOMUP_ONLY,
    )
    if f is None:
        return None
    before = len(problems.items)
    if "paradigm" not in f:
        return None
    paradigm = get_choice(problems, f["paradigm"], join(path, "paradigm"), ("topdown", "bottomup"))
    if paradigm is not None and ctx.paradigm is not None and paradigm != ctx.paradigm:
        problems.add(
            join(path, "paradigm"), f["paradigm"].line, f"{paradigm!r} for a {ctx.paradigm} head", ctx.paradigm
        )
    if paradigm is not None:
        own, other = (_TOPDOWN_ONLY, _BOTTOMUP_ONLY) if paradigm == "topdown" else (_BOTTOMUP_ONLY, _TOPDOWN_ONLY)
        for key in other:
            if key in f:
                problems.add(join(path, key), node.key_line(key), f"{key!r} does not apply to {paradigm}", _one_of(own))
        need = ("boxes", "padding") if paradigm == "topdown" else _BOTTOMUP_ONLY[:4]
        for key in need:
            if key not in f:
                problems.add(join(path, key), node.line, f"missing {key!r} for a {paradigm} protocol", "it set")
    flip = get_bool(problems, f["flip"], join(path, "flip")) if "flip" in f else None
    scales = _scales(f["scales"], join(path, "scales"), paradigm, problems) if "scales" in f else None
    evaluator = read_evaluator(f["evaluator"], join(path, "evaluator"), ctx, problems) if "evaluator" in f else None
    era = read_era(f["era"], join(path, "era"), problems) if "era" in f else None
    kw = _paradigm_fields(f, path, paradigm, problems)
    if len(problems.items) > before or None in (paradigm, flip, scales, evaluator, era):
        return None
    record = TopDownProtocol if paradigm == "topdown" else BottomUpProtocol
    return record(flip=flip, scales=scales, evaluator=evaluator, era=era, **kw)


def _paradigm_fields(f: dict[str, Located], path: str, paradigm: str | None, problems: Problems) -> dict:
    """The paradigm's own fields (the caller has refused the other paradigm's and reported missing ones). Flags that
    zoo.yaml leaves out are False; top-down rescoring / OKS-NMS thresholds left out are None (not applied)."""
    own = _TOPDOWN_ONLY if paradigm == "topdown" else _BOTTOMUP_ONLY
    kw: dict = {key: None for key in ("vis_thr", "oks_nms_thr") if key in own}
    kw.update({key: False for key in ("shift_heatmap", "adjust", "refine") if key in own})
    for key in own:
        if key not in f:
            continue
        node, where = f[key], join(path, key)
        if key == "boxes":
            kw[key] = read_boxes(node, where, problems)
        elif key in ("max_num_people", "nms_kernel"):
            kw[key] = get_int(problems, node, where, minimum=1)
        elif key in ("shift_heatmap", "adjust", "refine"):
            kw[key] = get_bool(problems, node, where)
        else:
            kw[key] = get_float(problems, node, where, minimum=0.0)
    return kw


def _scales(node: Located, path: str, paradigm: str | None, problems: Problems) -> tuple[float, ...] | None:
    items = get_list(problems, node, path, expected="a non-empty list of positive numbers, e.g. [1] or [2, 1, 0.5]")
    if items is None:
        return None
    values = tuple(get_float(problems, it, join(path, i)) for i, it in enumerate(items))
    if None in values:
        return None
    problem = scales_problem(values, paradigm=paradigm or "bottomup")
    if problem:
        problems.add(path, node.line, problem, "[1] (top-down) or positive scales including 1, e.g. [2, 1, 0.5]")
        return None
    return values


def read_boxes(node: Located, path: str, problems: Problems) -> BoxSource | None:
    f = fields(problems, node, path, required=("kind",), optional=("file", "score_threshold"))
    if f is None or "kind" not in f:
        return None
    kind = get_choice(problems, f["kind"], join(path, "kind"), ("gt", "detector"))
    file = get_str(problems, f["file"], join(path, "file")) if "file" in f else None
    if kind == "detector" and file is None and "file" not in f:
        problems.add(join(path, "file"), node.line, "detector boxes without a file", "the detection file's name")
    if kind == "gt" and "file" in f:
        problems.add(
            join(path, "file"), f["file"].line, "a file for GT boxes", "no file (GT boxes come from the annotations)"
        )
    threshold = (
        get_float(problems, f["score_threshold"], join(path, "score_threshold")) if "score_threshold" in f else 0.0
    )
    if kind is None or threshold is None:
        return None
    return BoxSource(kind=kind, file=file, score_threshold=threshold)


def read_evaluator(node: Located, path: str, ctx: RowContext, problems: Problems) -> Evaluator | None:
    coco_keys, pck_keys = ("library", "sigmas", "use_area"), ("pck_threshold", "normalize")
    f = fields(problems, node, path, required=("kind",), optional=coco_keys + pck_keys)
    if f is None or "kind" not in f:
        return None
    kind = get_choice(problems, f["kind"], join(path, "kind"), ("coco_keypoints", "pck_nme"))
    if kind is None:
        return None
    own, other = (coco_keys, pck_keys) if kind == "coco_keypoints" else (pck_keys, coco_keys)
    for key in other:
        if key in f:
            problems.add(join(path, key), node.key_line(key), f"{key!r} does not apply to {kind}", _one_of(own))
    for key in own[:2]:
        if key not in f:
            problems.add(join(path, key), node.line, f"missing {key!r} for {kind}", "it set")
    kw: dict = {}
    if kind == "coco_keypoints":
        if "library" in f:
            kw["library"] = get_choice(problems, f["library"], join(path, "library"), ("xtcocotools", "pycocotools"))
        if "sigmas" in f:
            kw["sigmas"] = _sigmas(f["sigmas"], join(path, "sigmas"), ctx, problems)
        if "use_area" in f:
            kw["use_area"] = get_bool(problems, f["use_area"], join(path, "use_area"))
    else:
        if "pck_threshold" in f:
            kw["pck_threshold"] = get_float(problems, f["pck_threshold"], join(path, "pck_threshold"), minimum=0.0)
        if "normalize" in f:
            kw["normalize"] = get_choice(problems, f["normalize"], join(path, "normalize"), ("nose_eye",))
    if any(v is None for v in kw.values()) or any(k not in f for k in own[:2]):
        return None
    return Evaluator(kind=kind, **kw)


def _sigmas(node: Located, path: str, ctx: RowContext, problems: Problems) -> str | None:
    name = get_str(problems, node, path, expected="the name of a keypoint schema with sigmas")
    if name is None:
        return None
    schema = ctx.schemas.get(name)
    if schema is None or schema.sigmas is None:
        with_sigmas = [n for n, s in ctx.schemas.items() if s.sigmas is not None]
        problems.add(path, node.line, f"no keypoint schema {name!r} with sigmas", _one_of(with_sigmas))
        return None
    if ctx.num_keypoints is not None and schema.num_keypoints != ctx.num_keypoints:
        problems.add(
            path,
            node.line,
            f"{name!r} has {schema.num_keypoints} sigmas",
            f"{ctx.num_keypoints} (the entry's keypoints)",
        )
    return name


def read_era(node: Located, path: str, problems: Problems) -> Era | None:
    f = fields(
        problems, node, path, required=("name",), optional=("gt_box_shrink", "stage_aggregation", "grouping_max_groups")
    )
    if f is None or "name" not in f:
        return None
    kw: dict = {"name": get_str(problems, f["name"], join(path, "name"), expected="an era name, e.g. model-zoo-2021")}
    if "gt_box_shrink" in f:
        kw["gt_box_shrink"] = get_bool(problems, f["gt_box_shrink"], join(path, "gt_box_shrink"))
    if "stage_aggregation" in f:
        choices = ("upsample_to_last", "direct")
        kw["stage_aggregation"] = get_choice(problems, f["stage_aggregation"], join(path, "stage_aggregation"), choices)
    if "grouping_max_groups" in f:
        kw["grouping_max_groups"] = get_int(
            problems, f["grouping_max_groups"], join(path, "grouping_max_groups"), minimum=1
        )
    if any(v is None for v in kw.values()):
        return None
    return Era(**kw)


def _one_of(names) -> str:
    names = list(names)
    return f"one of {', '.join(map(str, names))}" if names else "(none defined)"
