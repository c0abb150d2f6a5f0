"""Resolve a registry DataSplit against a data root, and say exactly what is missing (PROTOCOLS.md §5 layout)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from zoo.registry.schema import DataSplit


@dataclass(frozen=True)
class ResolvedSplit:
    """Absolute paths of one split. bbox_file is None for GT-box splits."""

    root: Path
    ann_file: Path
    img_dir: Path
    bbox_file: Path | None = None


def _expected(split: DataSplit) -> list[tuple[str, str, bool]]:
    """(role, relative path, is_dir) of every path the split needs."""
    need = [("annotation file", split.ann_file, False), ("image folder", split.img_dir, True)]
    if split.bbox_file:
        need.append(("detection box file", split.bbox_file, False))
    return need


def missing_paths(split: DataSplit, data_root: str | Path) -> list[str]:
    """Human-readable lines, one per missing (or wrong-kind) path of the split; empty when all are present."""
    root = Path(data_root)
    lines = []
    for role, rel, is_dir in _expected(split):
        path = root / rel
        if not path.exists():
            lines.append(f"{role} {path} does not exist")
        elif is_dir and not path.is_dir():
            lines.append(f"{role} {path} is not a folder")
        elif not is_dir and not path.is_file():
            lines.append(f"{role} {path} is not a file")
    return lines


def expected_layout(split: DataSplit, data_root: str | Path) -> str:
    """The layout the split expects under the data root, as an indented listing."""
    root = Path(data_root)
    rows = [f"{root}/"]
    for role, rel, is_dir in sorted(_expected(split), key=lambda r: r[1]):
        rows.append(f"  {rel.rstrip('/')}{'/' if is_dir else ''}    <- {role}")
    return "\n".join(rows)


def resolve_split(split: DataSplit, data_root: str | Path, *, dataset: str = "", homepage: str = "") -> ResolvedSplit:
    """Absolute paths of the split under data_root; DataError listing every missing path, the expected layout and
    how to lay it out: the exact `data fetch` command and its manual steps when the registry has the dataset's
    sources (`dataset`: its key or name), else its homepage."""
    root = Path(data_root).expanduser()
    missing = missing_paths(split, root)
    if missing:
        label = f"dataset {dataset!r}" if dataset else "the dataset"
        raise DataError(
            f"{label} is not complete under the data root {root}:\n  - "
            + "\n  - ".join(missing)
            + f"\nExpected layout:\n{expected_layout(split, root)}\n"
            + "Point --data-root at the folder that holds these paths, or lay them out there.\n"
            + _how_to_get(dataset, homepage, root)
        )
    return ResolvedSplit(
        root=root,
        ann_file=root / split.ann_file,
        img_dir=root / split.img_dir,
        bbox_file=root / split.bbox_file if split.bbox_file else None,
    )


def _how_to_get(dataset: str, homepage: str, root: Path) -> str:
    """The fetch command + manual steps of a registry dataset, else the homepage (e.g. a test's own split)."""
    from harness.data.sources import find_dataset, missing_data_hint
    from zoo import load_registry
    from zoo.errors import ZooError

    try:
        found = find_dataset(load_registry(), dataset) if dataset else None
    except ZooError:  # a broken registry is reported by the command that loads it; here, fall back to the page
        found = None
    if found is not None and found.sources:
        return missing_data_hint(found, root)
    return f"Get it from {homepage}." if homepage else ""
