"""zoo.yaml (+ keypoints.yaml, papers.bib) -> a validated, frozen `schema.Registry`.

Every problem of all three files is collected and raised at once as one `RegistryError`, each phrased
`field.path[3].name (line N): what is wrong; expected ...`.

File resolution: `load_registry(path)` reads `path`, else $HRNET_ZOO_REGISTRY, else the repository's zoo.yaml. The
keypoint schemas and bibtex come from the explicit `keypoints=` / `papers=` arguments, else from `keypoints.yaml` /
`papers.bib` next to that zoo.yaml when they exist there, else from the copies in this package.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import stat
from pathlib import Path
from types import MappingProxyType
from typing import get_args

from zoo import settings
from zoo.errors import RegistryError
from zoo.evaluators import EVALUATORS, METRIC_NAMES
from zoo.registry.bib import parse_bibtex
from zoo.registry.checkpoint_reader import read_checkpoint, read_url
from zoo.registry.dataset_reader import read_sources
from zoo.registry.keypoints import read_schemas
from zoo.registry.rows import RowContext, read_result
from zoo.registry.schema import AnnotationFormat, Architecture, Dataset, DataSplit, Entry, HeadTarget, Registry
from zoo.registry.yamltree import (
    Located,
    Problems,
    fields,
    get_choice,
    get_float,
    get_int,
    get_int_tuple,
    get_list,
    get_str,
    join,
    parse,
)

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # zoo/: keypoints.yaml and papers.bib
DEFAULT_REGISTRY = settings.DEFAULT_REGISTRY

_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
#: Stages (outputs) per head kind; PROTOCOLS.md §1.2: stage 0 is stride 4, HigherHRNet's stage 1 stride 2.
_STAGES = {"heatmap": 1, "associative_embedding": 1, "higher_resolution": 2}


def registry_paths(path: str | os.PathLike | None = None, *, keypoints=None, papers=None) -> tuple[Path, Path, Path]:
    """The (zoo.yaml, keypoints.yaml, papers.bib) that `load_registry` would read with these arguments."""
    zoo = Path(path or settings.registry_file()).resolve()

    def pick(explicit, name: str) -> Path:
        if explicit:
            return Path(explicit).resolve()
        sibling = zoo.parent / name
        return sibling if sibling.is_file() else PACKAGE_DIR / name

    return zoo, pick(keypoints, "keypoints.yaml"), pick(papers, "papers.bib")


def load_registry(
    path: str | os.PathLike | None = None,
    *,
    keypoints: str | os.PathLike | None = None,
    papers: str | os.PathLike | None = None,
) -> Registry:
    """Load and validate the registry; raises RegistryError listing every problem. Cached per files + mtimes."""
    files = registry_paths(path, keypoints=keypoints, papers=papers)
    stamps = []
    env = settings.REGISTRY.name
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise RegistryError(
                [f"{f}: cannot read ({exc.strerror}); expected an existing file (set ${env} or pass a path)"],
                path=str(files[0]),
            ) from exc
        if not stat.S_ISREG(st.st_mode):
            raise RegistryError(
                [f"{f}: is not a regular file (a folder?); expected a YAML or bibtex file (set ${env})"],
                path=str(files[0]),
            )
        stamps.append((st.st_mtime_ns, st.st_size))
    return _load_cached(*files, tuple(stamps))


def _read(path: Path, registry: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([f"{path}: cannot read ({exc}); expected a UTF-8 text file"], path=str(registry)) from None


@functools.lru_cache(maxsize=16)
def _load_cached(zoo: Path, keypoints: Path, papers: Path, _stamps: tuple) -> Registry:
    return parse_registry(
        _read(zoo, zoo),
        keypoints_text=_read(keypoints, zoo),
        papers_text=_read(papers, zoo),
        path=str(zoo),
        keypoints_name=keypoints.name,
        papers_name=papers.name,
    )


def parse_registry(
    text: str,
    *,
    keypoints_text: str,
    papers_text: str,
    path: str = "zoo.yaml",
    keypoints_name: str = "keypoints.yaml",
    papers_name: str = "papers.bib",
) -> Registry:
    """Build the registry from file contents (no I/O); raises RegistryError listing every problem."""
    problems = Problems()
    kp_problems = Problems(f"{keypoints_name}: ")
    bib_problems = Problems(f"{papers_name}: ")
    kp_root = parse(keypoints_text, kp_problems)
    schemas = read_schemas(kp_root, kp_problems) if kp_root is not None else {}
    bib = parse_bibtex(papers_text, bib_problems)
    root = parse(text, problems)
    registry = None
    if root is not None:
        registry = _read_registry(root, schemas=schemas, papers=bib, problems=problems)
    found = kp_problems.items + bib_problems.items + problems.items
    if found or registry is None:
        raise RegistryError(found or ["nothing could be read"], path=path)
    return registry


def _read_registry(root: Located, *, schemas: dict, papers: dict, problems: Problems) -> Registry | None:
    f = fields(problems, root, "", required=("version", "tolerances", "datasets", "entries"), optional=("protocols",))
    if f is None:
        return None
    if "version" in f:
        get_choice(problems, f["version"], "version", (1,))
    tolerances = _read_tolerances(f.get("tolerances"), problems)
    templates: dict[str, Located] = {}
    if "protocols" in f:
        node = f["protocols"]
        if isinstance(node.value, dict):
            templates = dict(node.value)
        else:
            problems.add("protocols", node.line, "got a non-mapping", "a mapping: template name -> protocol fields")
    datasets = _read_keyed(
        f.get("datasets"), "datasets", "key", problems, lambda n, p: _read_dataset(n, p, schemas, papers, problems)
    )
    ctx = dict(schemas=schemas, papers=papers, datasets=datasets, templates=templates, tolerances=tolerances)
    entries = _read_keyed(f.get("entries"), "entries", "id", problems, lambda n, p: _read_entry(n, p, ctx, problems))
    return Registry(
        entries=MappingProxyType(entries),
        datasets=MappingProxyType(datasets),
        schemas=MappingProxyType(dict(schemas)),
        papers=MappingProxyType(dict(papers)),
        default_tolerances=MappingProxyType(tolerances),
    )


def _read_tolerances(node: Located | None, problems: Problems) -> dict[str, float]:
    if node is None:
        return {}
    if not isinstance(node.value, dict):
        problems.add("tolerances", node.line, "got a non-mapping", "metric -> default absolute tolerance")
        return {}
    out = {}
    for name, item in node.value.items():
        if name not in METRIC_NAMES:
            problems.add(
                join("tolerances", name), node.key_line(name), f"unknown metric {name!r}", ", ".join(METRIC_NAMES)
            )
            continue
        value = get_float(problems, item, join("tolerances", name), minimum=0.0)
        if value is not None:
            out[name] = value
    return out


def _read_keyed(node: Located | None, section: str, key: str, problems: Problems, read) -> dict:
    """A list of records with a unique `key` field, in file order; duplicates are reported."""
    if node is None:
        return {}
    items = get_list(problems, node, section, expected=f"a list of records, each with a unique {key!r}")
    out: dict = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items or []):
        record = read(item, join(section, i))
        ident = item.value.get(key) if isinstance(item.value, dict) else None
        ident = ident.value if ident is not None and isinstance(ident.value, str) else None
        if ident is not None and ident in first:
            problems.add(
                join(join(section, i), key),
                item.value[key].line,
                f"duplicate {key} {ident!r} (first at {section}[{first[ident]}])",
                f"every {key} once",
            )
            continue
        if ident is not None:
            first[ident] = i
        if record is not None:
            out[getattr(record, key)] = record
    return out


_DATASET_FIELDS = ("key", "name", "paper", "keypoint_schema", "splits", "task", "annotations", "evaluator")


def _read_dataset(node: Located, path: str, schemas: dict, papers: dict, problems: Problems) -> Dataset | None:
    f = fields(
        problems,
        node,
        path,
        required=_DATASET_FIELDS,
        optional=("homepage", "sources"),
    )
    if f is None or any(k not in f for k in _DATASET_FIELDS):
        return None
    before = len(problems.items)
    key = _ident(f["key"], join(path, "key"), problems)
    name = get_str(problems, f["name"], join(path, "name"))
    paper = _known(f["paper"], join(path, "paper"), papers, "bibtex key in papers.bib", problems)
    schema = _known(f["keypoint_schema"], join(path, "keypoint_schema"), schemas, "keypoint schema", problems)
    # Dataset homepages are web pages (some only http); what to download is in `sources`
    # (zoo/registry/dataset_reader.py).
    homepage = read_url(f["homepage"], join(path, "homepage"), problems, file=False) if "homepage" in f else ""
    task = get_str(problems, f["task"], join(path, "task"), expected="a task name such as 'Body 2D Keypoint'")
    annotations = get_choice(problems, f["annotations"], join(path, "annotations"), get_args(AnnotationFormat))
    evaluator = get_choice(problems, f["evaluator"], join(path, "evaluator"), EVALUATORS)
    splits = {}
    snode = f["splits"]
    if not isinstance(snode.value, dict) or not snode.value:
        problems.add(join(path, "splits"), snode.line, "no splits", "a mapping: split name -> ann_file, img_dir")
    else:
        for split, item in snode.value.items():
            splits[split] = _read_split(item, join(join(path, "splits"), split), problems)
    srcs = read_sources(f["sources"], join(path, "sources"), problems, key=key, splits=splits) if "sources" in f else ()
    if len(problems.items) > before:
        return None
    common = dict(key=key, name=name, paper=paper, keypoint_schema=schema, homepage=homepage, sources=srcs)
    common.update(task=task, annotations=annotations, evaluator=evaluator)
    return Dataset(splits=MappingProxyType(splits), **common)


def _read_split(node: Located, path: str, problems: Problems) -> DataSplit | None:
    f = fields(problems, node, path, required=("ann_file", "img_dir"), optional=("bbox_file",))
    if f is None:
        return None
    values = {k: _relpath(v, join(path, k), problems) for k, v in f.items()}
    if "ann_file" not in values or "img_dir" not in values:
        return None
    return DataSplit(**values)


def _read_entry(node: Located, path: str, ctx: dict, problems: Problems) -> Entry | None:
    required = ("id", "name", "architecture", "checkpoint", "config", "papers", "dataset", "results")
    f = fields(problems, node, path, required=required)
    if f is None:
        return None
    before = len(problems.items)

    def read(key: str, reader, *args):  # a missing field is already reported; still check all the others
        return reader(f[key], join(path, key), *args) if key in f else None

    entry_id = read("id", _ident, problems)
    name = read("name", lambda n, p: get_str(problems, n, p))
    dataset = read("dataset", _known, ctx["datasets"], "dataset key", problems)
    arch = read("architecture", _read_architecture, ctx["schemas"], problems)
    if arch is not None and dataset is not None:
        expected = ctx["datasets"][dataset].keypoint_schema
        if arch.keypoint_schema != expected:
            problems.add(
                join(path, "architecture.keypoint_schema"),
                f["architecture"].line,
                f"{arch.keypoint_schema!r} differs from dataset {dataset!r}'s schema",
                repr(expected),
            )
    checkpoint = read("checkpoint", read_checkpoint, entry_id, problems)
    config = read("config", _read_config, problems)
    papers = read("papers", _read_papers, ctx["papers"], problems)
    row_ctx = RowContext(
        entry_id=entry_id or "?",
        paradigm=arch.paradigm if arch else None,
        num_keypoints=arch.num_keypoints if arch else None,
        dataset=dataset,
        datasets=ctx["datasets"],
        schemas=ctx["schemas"],
        templates=ctx["templates"],
        default_tolerances=ctx["tolerances"],
    )
    results = read("results", _read_results, row_ctx, problems)
    if arch is not None and results:
        _check_head_target(arch, results, join(path, "results"), f["results"].line, problems)
    if len(problems.items) > before:
        return None
    return Entry(
        id=entry_id,
        name=name,
        architecture=arch,
        checkpoint=checkpoint,
        config=config,
        papers=papers,
        dataset=dataset,
        results=results,
    )


def _read_config(node: Located, path: str, problems: Problems) -> str | None:
    """An MMPose 0.x config path (PROTOCOLS.md §2.1), or for an entry trained here (the demo) the repository's own
    training script: a relative `.py` path outside configs/."""
    expected = "an MMPose 0.x config path configs/...py (PROTOCOLS.md §2.1) or a repository .py path"
    config = get_str(problems, node, path, expected=expected)
    if config is not None and (not config.endswith(".py") or config.startswith("/") or ".." in config.split("/")):
        problems.add(path, node.line, f"{config!r}", expected)
        return None
    return config


def _read_results(node: Located, path: str, ctx: RowContext, problems: Problems) -> tuple:
    items = get_list(problems, node, path, expected="a non-empty list of result rows") or []
    if not items and isinstance(node.value, list):
        problems.add(path, node.line, "no result rows", "at least one documented row")
    results, first = [], {}
    for i, item in enumerate(items):
        row = read_result(item, join(path, i), ctx, problems)
        name_node = item.value.get("name") if isinstance(item.value, dict) else None
        name = name_node.value if name_node is not None else None
        if isinstance(name, str) and name in first:
            problems.add(
                join(join(path, i), "name"),
                name_node.line,
                f"duplicate result name {name!r} (first at {path}[{first[name]}])",
                "names unique within the entry, e.g. single-scale / multi-scale",
            )
        elif isinstance(name, str):
            first[name] = i
        if row is not None:
            results.append(row)
    return tuple(results)


def _check_head_target(arch: Architecture, rows, path: str, line: int, problems: Problems) -> None:
    """PROTOCOLS.md §3.1: the udp-combined decoder reads CombinedTarget outputs (3K channels) and only it does."""
    for i, row in enumerate(rows):
        combined = getattr(row.protocol, "decoder", None) == "udp-combined"
        if combined != (arch.target == "combined"):
            want = "decoder udp-combined" if arch.target == "combined" else "a decoder other than udp-combined"
            problems.add(
                join(join(path, i), "protocol.decoder"),
                line,
                f"decoder {row.protocol.decoder!r} for a {arch.target} head",
                want,
            )


def _read_architecture(node: Located, path: str, schemas: dict, problems: Problems) -> Architecture | None:
    keys = ("backbone", "width", "head", "input_size", "heatmap_sizes", "num_keypoints", "keypoint_schema")
    f = fields(problems, node, path, required=keys, optional=("target",))
    if f is None or any(k not in f for k in keys):
        return None
    before = len(problems.items)
    backbone = get_choice(problems, f["backbone"], join(path, "backbone"), ("hrnet",))
    # The zoo's checkpoints are W32/W48; any width builds (the demo entry is W8).
    width = get_int(problems, f["width"], join(path, "width"), minimum=1)
    head = get_choice(problems, f["head"], join(path, "head"), tuple(_STAGES))
    size = get_int_tuple(problems, f["input_size"], join(path, "input_size"), length=2, minimum=1)
    hm_path = join(path, "heatmap_sizes")
    hm_items = get_list(problems, f["heatmap_sizes"], hm_path, expected="a list of [H, W] pairs") or []
    hm = tuple(get_int_tuple(problems, it, join(hm_path, i), length=2, minimum=1) for i, it in enumerate(hm_items))
    k = get_int(problems, f["num_keypoints"], join(path, "num_keypoints"), minimum=1)
    schema = _known(f["keypoint_schema"], join(path, "keypoint_schema"), schemas, "keypoint schema", problems)
    if schema is not None and k is not None and schemas[schema].num_keypoints != k:
        n = schemas[schema].num_keypoints
        problems.add(join(path, "num_keypoints"), f["num_keypoints"].line, f"{k} != {n} joints of {schema!r}", str(n))
    if head is not None and size is not None and None not in hm:
        # PROTOCOLS.md §1.2: stage 0 at stride 4 of the input; HigherHRNet adds a stride-2 stage.
        want = tuple((size[0] // s, size[1] // s) for s in (4, 2)[: _STAGES[head]])
        if hm != want:
            problems.add(hm_path, f["heatmap_sizes"].line, f"{[list(h) for h in hm]}", f"{[list(w) for w in want]}")
    target = "gaussian"
    if "target" in f:
        # PROTOCOLS.md §3.1: CombinedTarget heads (3 channels per keypoint) are top-down heatmap heads.
        target = get_choice(problems, f["target"], join(path, "target"), get_args(HeadTarget))
        if target == "combined" and head != "heatmap":
            problems.add(join(path, "target"), f["target"].line, f"a combined target on a {head!r} head", "gaussian")
    if len(problems.items) > before:
        return None
    return Architecture(
        backbone=backbone,
        width=width,
        head=head,
        input_size=size,
        heatmap_sizes=hm,
        num_keypoints=k,
        keypoint_schema=schema,
        target=target,
    )


def _read_papers(node: Located, path: str, papers: dict, problems: Problems) -> tuple[str, ...]:
    items = get_list(problems, node, path, expected="a non-empty list of bibtex keys") or []
    keys = tuple(_known(it, join(path, i), papers, "bibtex key in papers.bib", problems) for i, it in enumerate(items))
    if not items and isinstance(node.value, list):
        problems.add(path, node.line, "no papers", "at least the HRNet paper (sun2019deep)")
    if len(set(keys)) != len(keys):
        problems.add(path, node.line, "a key repeats", "each key once")
    return keys


def _known(node: Located, path: str, known, what: str, problems: Problems) -> str | None:
    name = get_str(problems, node, path, expected=f"a {what}")
    if name is None:
        return None
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        problems.add(path, node.line, f"unknown {what} {name!r}{hint}", f"one of {', '.join(known) or '(none)'}")
        return None
    return name


def _ident(node: Located, path: str, problems: Problems) -> str | None:
    value = get_str(problems, node, path, expected="an identifier of lowercase a-z, 0-9 and _")
    if value is not None and not _ID.match(value):
        problems.add(path, node.line, f"{value!r} is not an identifier", "lowercase a-z, 0-9 and _")
        return None
    return value


def _relpath(node: Located, path: str, problems: Problems) -> str | None:
    value = get_str(problems, node, path, expected="a path relative to the data root")
    if value is not None and (value.startswith("/") or ".." in value.split("/")):
        problems.add(path, node.line, f"{value!r} leaves the data root", "a relative path without '..'")
        return None
    return value
