"""YAML with line numbers, and the small toolkit the loaders use to read it into records.

PyYAML's `safe_load` forgets where a value came from. Here the document is composed into PyYAML's node tree and
converted into `Located` values that keep their (1-based) line and, for scalars, their source text, so that every
problem can be reported as `field.path[3].name (line N): what is wrong; expected ...` and metric numbers keep the
exact spelling of the seed pages ("0.870", never "0.87").

Anchors and aliases work as usual; merge keys (`<<: *anchor`) merge shallowly, explicit keys win. Duplicate keys,
which PyYAML would silently collapse, are reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Located:
    """A YAML value with its position. `value` is a dict[str, Located], a list[Located] or a plain scalar."""

    value: Any
    line: int
    #: Scalars only: the text as written in the file (without quotes).
    text: str | None = None
    #: Mappings only: line of each key (a block mapping's value may start on a later line than its key).
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


def join(path: str, key: str | int) -> str:
    """`entries` + 3 -> `entries[3]`; `entries[3]` + `name` -> `entries[3].name`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(node: Located) -> str:
    """How a value reads in a message: `a mapping`, `a list`, `the integer 12345678`, ..."""
    v = node.value
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(v), type(v).__name__)
    return f"the {kind} {node.text if node.text is not None else v!r}"


class Problems:
    """Collects every problem of one file, each phrased `path (line N): what; expected ...`."""

    def __init__(self, where: str = "") -> None:
        #: Prefix naming the file for files other than zoo.yaml, e.g. "keypoints.yaml: ".
        self.where = where
        self.items: list[str] = []

    def add(self, path: str, line: int, what: str, expected: str) -> None:
        self.items.append(f"{self.where}{path or '<document>'} (line {line}): {what}; expected {expected}")

    def __bool__(self) -> bool:
        return bool(self.items)


def parse(text: str, problems: Problems) -> Located | None:
    """Compose YAML text into Located values; syntax errors, duplicate keys and bad merges go to `problems`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.add("", mark.line + 1 if mark else 1, f"YAML syntax error: {exc.problem}", "valid YAML")
        return None
    except yaml.YAMLError as exc:  # e.g. more than one document
        problems.add("", 1, f"YAML error: {exc}", "a single YAML document")
        return None
    if root is None:
        problems.add("", 1, "the file is empty", "a YAML mapping")
        return None
    return _Converter(problems).convert(root, "")


class _Converter:
    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        # A constructor instance gives YAML 1.1 scalar semantics (int, float, bool, null) for single nodes.
        self.constructor = yaml.SafeLoader("")
        self.memo: dict[int, Located | None] = {}

    def convert(self, node: yaml.Node, path: str) -> Located:
        key = id(node)
        if key in self.memo:  # an alias: the same node again (converted once, problems reported once)
            done = self.memo[key]
            if done is None:
                line = node.start_mark.line + 1
                self.problems.add(path, line, "recursive alias", "an alias of a finished node")
                return Located(None, line)
            return done
        self.memo[key] = None
        result = self._convert(node, path)
        self.memo[key] = result
        return result

    def _convert(self, node: yaml.Node, path: str) -> Located:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            try:
                value = self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                self.problems.add(path, line, f"bad scalar {node.value!r} ({exc})", "a plain value")
                value = node.value
            return Located(value, line, node.value)
        if isinstance(node, yaml.SequenceNode):
            return Located([self.convert(n, join(path, i)) for i, n in enumerate(node.value)], line)
        return self._mapping(node, path, line)

    def _mapping(self, node: yaml.MappingNode, path: str, line: int) -> Located:
        merged: dict[str, Located] = {}
        merged_lines: dict[str, int] = {}
        own: dict[str, Located] = {}
        own_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    done = self.convert(src, path)
                    if not isinstance(done.value, dict):
                        self.problems.add(path, key_line, f"merge key `<<` given {describe(done)}", "a mapping")
                        continue
                    for k, v in done.value.items():  # earlier sources win (YAML merge-key semantics)
                        merged.setdefault(k, v)
                        merged_lines.setdefault(k, done.key_line(k))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                self.problems.add(path, key_line, f"key {shown!r} is not a string", "a string key (quote it)")
                continue
            name = key_node.value
            if name in own:
                self.problems.add(
                    join(path, name),
                    key_line,
                    f"duplicate key {name!r} (first at line {own_lines[name]})",
                    "each key once per mapping",
                )
                continue
            own[name] = self.convert(value_node, join(path, name))
            own_lines[name] = key_line
        return Located({**merged, **own}, line, key_lines={**merged_lines, **own_lines})


# ------------------------------------------------------------------------------------------------ field readers


def fields(
    problems: Problems, node: Located, path: str, *, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Located] | None:
    """The mapping's fields, after reporting a non-mapping, every missing required field and every unknown one.

    Keys starting with `x-` are free for YAML anchors and notes and are skipped (as in docker-compose files).
    """
    required, optional = tuple(required), tuple(optional)
    if not isinstance(node.value, dict):
        problems.add(path, node.line, f"got {describe(node)}", f"a mapping with fields {', '.join(required)}")
        return None
    known = required + optional
    for name in required:
        if name not in node.value:
            problems.add(join(path, name), node.line, f"missing required field {name!r}", f"it in {path or 'the file'}")
    for name in node.value:
        if name in known or name.startswith("x-"):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.add(
            join(path, name), node.key_line(name), f"unknown field {name!r}{hint}", f"one of {', '.join(known)}"
        )
    return {k: v for k, v in node.value.items() if not k.startswith("x-")}


def get_str(problems: Problems, node: Located, path: str, *, expected: str = "a string") -> str | None:
    if isinstance(node.value, str) and node.value:
        return node.value
    problems.add(path, node.line, f"got {describe(node)}", expected)
    return None


def get_choice(problems: Problems, node: Located, path: str, choices: Iterable[Any]) -> Any:
    """One of `choices`, compared with its type too (YAML `true` is not the integer 1)."""
    choices = tuple(choices)
    if any(type(node.value) is type(c) and node.value == c for c in choices):
        return node.value
    problems.add(path, node.line, f"got {describe(node)}", f"one of {', '.join(map(str, choices))}")
    return None


def get_int(problems: Problems, node: Located, path: str, *, minimum: int | None = None) -> int | None:
    v = node.value
    if isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum):
        return v
    problems.add(
        path, node.line, f"got {describe(node)}", "an integer" + (f" >= {minimum}" if minimum is not None else "")
    )
    return None


def get_float(problems: Problems, node: Located, path: str, *, minimum: float | None = None) -> float | None:
    v = node.value
    if isinstance(v, (int, float)) and not isinstance(v, bool) and (minimum is None or v >= minimum):
        return float(v)
    problems.add(
        path, node.line, f"got {describe(node)}", "a number" + (f" >= {minimum}" if minimum is not None else "")
    )
    return None


def get_bool(problems: Problems, node: Located, path: str) -> bool | None:
    if isinstance(node.value, bool):
        return node.value
    problems.add(path, node.line, f"got {describe(node)}", "true or false")
    return None


def get_list(problems: Problems, node: Located, path: str, *, expected: str) -> list[Located] | None:
    if isinstance(node.value, list):
        return node.value
    problems.add(path, node.line, f"got {describe(node)}", expected)
    return None


def get_int_tuple(problems: Problems, node: Located, path: str, *, length: int | None, minimum: int = 0):
    """A list of integers (of exactly `length` items when given) as a tuple, or None after reporting."""
    items = get_list(problems, node, path, expected=f"a list of {length or 'some'} integers")
    if items is None:
        return None
    if length is not None and len(items) != length:
        problems.add(path, node.line, f"got {len(items)} items", f"exactly {length} integers")
        return None
    values = [get_int(problems, it, join(path, i), minimum=minimum) for i, it in enumerate(items)]
    return None if any(v is None for v in values) else tuple(values)
