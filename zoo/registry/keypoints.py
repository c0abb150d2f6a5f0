"""keypoints.yaml -> KeypointSchema records (PROTOCOLS.md §3, §5), validated."""

from __future__ import annotations

from zoo.registry.schema import KeypointSchema
from zoo.registry.yamltree import Located, Problems, fields, get_float, get_int_tuple, get_list, get_str, join


def read_schemas(root: Located, problems: Problems) -> dict[str, KeypointSchema]:
    """Every schema under `schemas:`; bad ones are reported to `problems` and left out."""
    top = fields(problems, root, "", required=("schemas",))
    if top is None or "schemas" not in top:
        return {}
    node = top["schemas"]
    if not isinstance(node.value, dict):
        problems.add("schemas", node.line, "got a non-mapping", "a mapping: schema name -> schema")
        return {}
    out = {}
    for name, item in node.value.items():
        schema = _read_schema(name, item, join("schemas", name), problems)
        if schema is not None:
            out[name] = schema
    return out


def _read_schema(name: str, node: Located, path: str, problems: Problems) -> KeypointSchema | None:
    f = fields(problems, node, path, required=("keypoints", "flip_pairs", "sigmas"), optional=("grouping_order",))
    if f is None or any(k not in f for k in ("keypoints", "flip_pairs", "sigmas")):
        return None
    before = len(problems.items)
    names_node = get_list(problems, f["keypoints"], join(path, "keypoints"), expected="a list of joint names")
    names = tuple(get_str(problems, n, join(join(path, "keypoints"), i)) for i, n in enumerate(names_node or []))
    k = len(names)
    if len(set(names)) != k:
        problems.add(join(path, "keypoints"), f["keypoints"].line, "joint names repeat", "unique names")
    pairs = _read_pairs(f["flip_pairs"], join(path, "flip_pairs"), k, problems)
    sigmas = None
    if f["sigmas"].value is not None:
        spath = join(path, "sigmas")
        items = get_list(problems, f["sigmas"], spath, expected=f"{k} positive numbers, or null (no OKS)") or []
        sigmas = tuple(get_float(problems, s, join(spath, i), minimum=0.0) for i, s in enumerate(items))
        if len(sigmas) != k:
            problems.add(
                spath, f["sigmas"].line, f"{len(sigmas)} sigmas for {k} keypoints", f"{k} sigmas (one a joint)"
            )
    order = tuple(range(k))
    if "grouping_order" in f:
        gpath = join(path, "grouping_order")
        got = get_int_tuple(problems, f["grouping_order"], gpath, length=None)
        if got is not None and sorted(got) != list(range(k)):
            problems.add(gpath, f["grouping_order"].line, "not a permutation of the joints", f"each of 0..{k - 1} once")
        order = got or order
    if len(problems.items) > before:
        return None
    return KeypointSchema(name=name, keypoints=names, flip_pairs=pairs, sigmas=sigmas, grouping_order=order)


def _read_pairs(node: Located, path: str, k: int, problems: Problems) -> tuple[tuple[int, int], ...]:
    items = get_list(problems, node, path, expected="a list of [left, right] index pairs ([] for none)") or []
    pairs: list[tuple[int, int]] = []
    seen: set[int] = set()
    for i, item in enumerate(items):
        pair = get_int_tuple(problems, item, join(path, i), length=2)
        if pair is None:
            continue
        a, b = pair
        if not (a < k and b < k) or a == b:
            problems.add(
                join(path, i), item.line, f"pair {list(pair)} out of range or not two joints", f"two indices < {k}"
            )
        elif seen & {a, b}:
            problems.add(join(path, i), item.line, f"joint {sorted(seen & {a, b})} in two pairs", "disjoint pairs")
        seen |= {a, b}
        pairs.append(pair)
    return tuple(pairs)
