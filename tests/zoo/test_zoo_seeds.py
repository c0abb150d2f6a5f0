"""The registry against the seed pages themselves: every results-table row of every seed, cell by cell.

The seeds (tests/data/pages/seeds/*.txt) are the model-zoo pages the documented numbers come from. Parsing them here,
rather than trusting a hand-copied list, means no typo in zoo.yaml (a metric, a URL, a log link) can hide.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zoo import load_registry
from zoo.registry.schema import METRIC_NAMES

LINK = re.compile(r"\((https://[^)\s]+)\)")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _header(cell: str) -> str:
    return re.sub(r"</?sup>", "", cell).strip()  # "AP<sup>50</sup>" -> "AP50"


def parse_seed_tables(path: Path) -> list[dict[str, str]]:
    """Every data row of every markdown table in a seed page, as {column: cell}, plus the table's caption."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    caption = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            if line.strip() and "Results" in line:
                caption = line.strip("# ").strip()
            continue
        cells = _cells(line)
        if header is None:
            header = [_header(c) for c in cells]
        elif all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        else:
            assert len(cells) == len(header), f"{path.name}: ragged row {line!r}"
            rows.append({**dict(zip(header, cells, strict=True)), "_caption": caption, "_seed": path.name})
    return rows


@pytest.fixture(scope="module")
def seed_rows(seeds_dir: Path) -> list[dict[str, str]]:
    rows = [row for path in sorted(seeds_dir.glob("*.txt")) for row in parse_seed_tables(path)]
    assert rows, f"no result tables found in {seeds_dir}"
    return rows


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _match(registry, row: dict[str, str]):
    """The registry's result for a seed row: same checkpoint, same scale setting, same split (Horse-10 `Set`)."""
    url = LINK.search(row["ckpt"]).group(1)
    multi = "multi-scale" in row["_caption"] and "without" not in row["_caption"]
    found = [
        (e, r)
        for e in registry.entries.values()
        if e.checkpoint.url == url
        for r in e.results
        if (len(r.protocol.scales) > 1) == multi and ("Set" not in row or r.split == row["Set"])
    ]
    assert len(found) == 1, f"{row['_seed']}: {len(found)} registry rows match seed row {row}"
    return found[0]


def _seeded(registry):
    """Entries documented by the seed pages: all but the demo entry, whose numbers come from demo/documented.json
    (measured by `python -m harness.demo.document`; tests/demo checks them)."""
    return [e for e in registry.entries.values() if not all(r.source.startswith("demo/") for r in e.results)]


def test_counts(seed_rows, registry):
    assert len(seed_rows) == 22
    assert len({LINK.search(r["ckpt"]).group(1) for r in seed_rows}) == 18
    assert len(_seeded(registry)) == 18
    assert sum(len(e.results) for e in _seeded(registry)) == 22


def test_every_seed_row_matches_the_registry_exactly(seed_rows, registry):
    matched = set()
    for row in seed_rows:
        entry, result = _match(registry, row)
        where = f"{row['_seed']} -> {result.row_id}"
        seed_metrics = {k: v for k, v in row.items() if k in METRIC_NAMES}
        assert dict(result.metric_text) == seed_metrics, where
        assert {k: float(v) for k, v in seed_metrics.items()} == dict(result.metrics), where
        assert entry.checkpoint.log_url == LINK.search(row["log"]).group(1), where
        h, w = entry.architecture.input_size
        assert row["Input Size"] == f"{h}x{w}", where
        assert result.source == row["_seed"], where
        assert entry.checkpoint.filename.startswith(entry.id + "-"), where
        matched.add(result.row_id)
    every = {r.row_id for e in _seeded(registry) for r in e.results}
    assert matched == every, f"registry rows no seed documents: {sorted(every - matched)}"


def test_seed_bibtex_is_copied_exactly(seeds_dir, registry):
    blocks = []
    for path in sorted(seeds_dir.glob("*.txt")):
        blocks += re.findall(r"```bibtex\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        key = re.match(r"@\w+\{([^,]+),", block.strip()).group(1)
        assert registry.papers[key] == block.strip(), key


def test_readme_contains_every_number(seed_rows, registry, repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for row in seed_rows:
        entry, result = _match(registry, row)
        lines = [ln for ln in readme.splitlines() if ln.startswith(f"| `{entry.id}` | {result.name} |")]
        assert len(lines) == 1, f"README has {len(lines)} lines for {result.row_id}"
        cells = _cells(lines[0])
        for metric, text in row.items():
            if metric in METRIC_NAMES:
                assert text in cells, f"README row {result.row_id} lacks {metric} {text}"
