"""Reading a result row's protocol (zoo.yaml `entries[i].results[j].protocol`, or a `protocols:` template) into the
record of its paradigm, zoo.registry.schema's TopDownProtocol or BottomUpProtocol.

A row's `protocol:` may name a template from the top-level `protocols:` section with `base:`; the row's own fields
are merged over it key by key (nested mappings merge, everything else replaces), so the record is fully resolved.
Value rules shared with the harness's overrides live in zoo.registry.rules.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args, get_origin, get_type_hints

from zoo.evaluators import EVALUATORS, Evaluator
from zoo.registry.rules import kernel_problem, scales_problem
from zoo.registry.schema import (
    AffineKind,
    Aggregation,
    BaseProtocol,
    BottomUpProtocol,
    BoxSource,
    Era,
    KeypointSchema,
    Paradigm,
    Precision,
    Protocol,
    TopDownDecoder,
    TopDownProtocol,
)
from zoo.registry.yamltree import (
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


def _own_fields(record: type) -> tuple[str, ...]:
    """The fields a paradigm's record adds to BaseProtocol (the records are the one list of them)."""
    shared = {f.name for f in dataclasses.fields(BaseProtocol)}
    return tuple(f.name for f in dataclasses.fields(record) if f.name not in shared)


_TOPDOWN_ONLY = _own_fields(TopDownProtocol)
_BOTTOMUP_ONLY = _own_fields(BottomUpProtocol)


@dataclass(frozen=True)
class ProtocolContext:
    """What a protocol is checked against: its entry's paradigm and keypoint count (None for a template), and the
    keypoint schemas its evaluator may name."""

    paradigm: Paradigm | None
    num_keypoints: int | None
    schemas: Mapping[str, KeypointSchema]


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


def read_protocol(node: Located, path: str, ctx: ProtocolContext, problems: Problems) -> Protocol | None:
    """A row's (or a template's) protocol mapping, templates already merged (`apply_template`), as the record of
    its paradigm, or None after reporting every problem."""
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
    paradigm = get_choice(problems, f["paradigm"], join(path, "paradigm"), get_args(Paradigm))
    if paradigm is not None and ctx.paradigm is not None and paradigm != ctx.paradigm:
        problems.add(
            join(path, "paradigm"), f["paradigm"].line, f"{paradigm!r} for a {ctx.paradigm} head", ctx.paradigm
        )
    if paradigm is not None:
        own, other = (_TOPDOWN_ONLY, _BOTTOMUP_ONLY) if paradigm == "topdown" else (_BOTTOMUP_ONLY, _TOPDOWN_ONLY)
        for key in other:
            if key in f and key not in own:
                problems.add(join(path, key), node.key_line(key), f"{key!r} does not apply to {paradigm}", one_of(own))
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
    zoo.yaml leaves out are False; top-down rescoring / OKS-NMS thresholds left out are None (not applied); top-down
    decoding variants left out are the plain ones (`TOPDOWN_PLAIN`: default decoder, standard affine, kernel 11,
    fp32), so rows written before they existed read as they always ran."""
    own = _TOPDOWN_ONLY if paradigm == "topdown" else _BOTTOMUP_ONLY
    kw: dict = {key: None for key in ("vis_thr", "oks_nms_thr") if key in own}
    kw.update({key: False for key in ("shift_heatmap", "adjust", "refine") if key in own})
    kw.update({key: value for key, value in TOPDOWN_PLAIN.items() if key in own})
    for key in own:
        if key not in f:
            continue
        node, where = f[key], join(path, key)
        if key in _TOPDOWN_CHOICES:
            kw[key] = get_choice(problems, node, where, get_args(_TOPDOWN_CHOICES[key]))
        elif key == "kernel":
            kw[key] = get_int(problems, node, where, minimum=1)
            if kw[key] is not None and (problem := kernel_problem(kw[key])):
                problems.add(where, node.line, problem, "an odd kernel size, e.g. 11 (sigma 2) or 17 (sigma 3)")
        elif key == "boxes":
            kw[key] = read_boxes(node, where, problems)
        elif key in ("max_num_people", "nms_kernel"):
            kw[key] = get_int(problems, node, where, minimum=1)
        elif key in ("shift_heatmap", "adjust", "refine"):
            kw[key] = get_bool(problems, node, where)
        else:
            kw[key] = get_float(problems, node, where, minimum=0.0)
    return kw


#: The top-down decoding variants' values when zoo.yaml leaves them out (PROTOCOLS.md §3.1, §3.2).
TOPDOWN_PLAIN = {"decoder": "default", "affine": "standard", "kernel": 11, "precision": "fp32"}
_TOPDOWN_CHOICES = {"decoder": TopDownDecoder, "affine": AffineKind, "precision": Precision}


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


def read_evaluator(node: Located, path: str, ctx: ProtocolContext, problems: Problems) -> Evaluator | None:
    """The record of the evaluator's `kind` (zoo.evaluators.EVALUATORS), its settings read by their field types
    (zoo.evaluators.base); an unknown kind is a problem naming the known ones, never a fallback."""
    if not isinstance(node.value, dict) or "kind" not in node.value:
        fields(problems, node, path, required=("kind",), optional=())
        return None
    kind = get_str(problems, node.value["kind"], join(path, "kind"), expected="an evaluator kind")
    if kind is None:
        return None
    if kind not in EVALUATORS:
        close = difflib.get_close_matches(kind, list(EVALUATORS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.add(join(path, "kind"), node.value["kind"].line, f"unknown evaluator kind {kind!r}{hint}",
                     one_of(EVALUATORS))  # fmt: skip
        return None
    record = EVALUATORS[kind]
    settable = [x for x in dataclasses.fields(record) if x.init]
    required = tuple(x.name for x in settable if _no_default(x))
    optional = tuple(x.name for x in settable if not _no_default(x))
    f = fields(problems, node, path, required=("kind", *required), optional=optional)
    if f is None:
        return None
    if any(name not in f for name in required):
        return None
    hints = get_type_hints(record)
    kw = {
        x.name: _setting(x, hints[x.name], f[x.name], join(path, x.name), ctx, problems)
        for x in settable
        if x.name in f
    }
    if any(v is None for v in kw.values()):
        return None
    return record(**kw)


def _no_default(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _setting(f: dataclasses.Field, hint, node: Located, path: str, ctx: ProtocolContext, problems: Problems):
    """One evaluator setting, read by its field type (zoo.evaluators.base lists the rules)."""
    if f.metadata.get("schema_with_sigmas"):
        return _sigmas(node, path, ctx, problems)
    if f.metadata.get("bare_file_name"):
        return _file_name(node, path, problems)
    if "yaml_choices" in f.metadata:
        return get_choice(problems, node, path, f.metadata["yaml_choices"])
    if get_origin(hint) is Literal:
        return get_choice(problems, node, path, get_args(hint))
    if hint is bool:
        return get_bool(problems, node, path)
    if hint is int:
        return get_int(problems, node, path, minimum=0)
    if hint is float:
        return get_float(problems, node, path, minimum=0.0)
    return get_str(problems, node, path)


def _file_name(node: Located, path: str, problems: Problems) -> str | None:
    """A bare file name: the file lives beside the annotation file, so no folder part may move it elsewhere."""
    name = get_str(problems, node, path, expected="a file name, e.g. mpii_gt_val.mat")
    if name is not None and ("/" in name or "\\" in name or name in (".", "..")):
        problems.add(path, node.line, f"{name!r} is not a bare file name", "a file name beside the annotation file")
        return None
    return name


def _sigmas(node: Located, path: str, ctx: ProtocolContext, problems: Problems) -> str | None:
    name = get_str(problems, node, path, expected="the name of a keypoint schema with sigmas")
    if name is None:
        return None
    schema = ctx.schemas.get(name)
    if schema is None or schema.sigmas is None:
        with_sigmas = [n for n, s in ctx.schemas.items() if s.sigmas is not None]
        problems.add(path, node.line, f"no keypoint schema {name!r} with sigmas", one_of(with_sigmas))
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
        choices = get_args(Aggregation)
        kw["stage_aggregation"] = get_choice(problems, f["stage_aggregation"], join(path, "stage_aggregation"), choices)
    if "grouping_max_groups" in f:
        kw["grouping_max_groups"] = get_int(
            problems, f["grouping_max_groups"], join(path, "grouping_max_groups"), minimum=1
        )
    if any(v is None for v in kw.values()):
        return None
    return Era(**kw)


def one_of(names) -> str:
    """The `expected` text of a closed choice: `one of a, b, c`."""
    names = list(names)
    return f"one of {', '.join(map(str, names))}" if names else "(none defined)"
