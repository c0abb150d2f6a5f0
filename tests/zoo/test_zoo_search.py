"""`python -m zoo search`: conditions and sorting like `mim search`, checked against the registry itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zoo import load_registry
from zoo.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def rows():
    return [r for e in load_registry().entries.values() for r in e.results]


def test_dataset_where_sort(capsys, rows):
    code, out, err = run(capsys, "search", "--dataset", "coco", "--where", "AP>0.7", "--sort", "AP", "--json")
    assert code == 0, err
    found = json.loads(out)
    expected = [r for r in rows if r.dataset == "coco" and r.metrics.get("AP", 0) > 0.7]
    assert {f["name"] for f in found} == {r.row_id for r in expected} and len(found) == len(expected) > 0
    assert [f["AP"] for f in found] == sorted((r.metrics["AP"] for r in expected), reverse=True)  # best first


def test_nme_sorts_lower_first_and_conditions_combine(capsys, rows):
    code, out, _ = run(capsys, "search", "--where", "NME<0.13", "--where", "width==48", "--sort", "nme", "--json")
    assert code == 0
    found = json.loads(out)
    assert [f["name"] for f in found] == [
        r.row_id
        for r in sorted(rows, key=lambda r: r.metrics.get("NME", 9))
        if r.metrics.get("NME", 9) < 0.13 and r.entry_id.startswith("hrnet_w48")
    ]
    code, out, _ = run(capsys, "search", "--where", "NME<0.13", "--sort", "NME", "--reverse", "--json")
    nme = [f["NME"] for f in json.loads(out)]
    assert nme == sorted(nme, reverse=True)


def test_rows_without_the_metric_never_match(capsys):
    code, out, _ = run(capsys, "search", "--where", "AP>=0", "--json")
    assert code == 0 and not any(f["dataset"] == "horse10" for f in json.loads(out))


def test_table_output_and_no_match(capsys):
    code, out, _ = run(capsys, "search", "--dataset", "atrw", "--sort", "AP")
    assert code == 0 and out.splitlines()[1].split()[0] == "hrnet_w32_atrw_256x256/gt-bbox"
    code, out, _ = run(capsys, "search", "--where", "AP>2")
    assert code == 0 and out.strip() == "no row matches"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--where", "AP>>0.7"], "expected COLUMN OP NUMBER"),
        (["--where", "AP>abc"], "expected COLUMN OP NUMBER"),
        (["--where", "dataset>1"], "is not numeric"),
        (["--where", "mAP>0.7"], "unknown column 'mAP'"),
        (["--dataset", "cocoo"], "unknown dataset 'cocoo'"),
        (["--sort", "speed"], "unknown column 'speed'"),
    ],
)
def test_bad_conditions_are_one_clear_error(capsys, argv, expected):
    code, out, err = run(capsys, "search", *argv)
    assert code == 2 and out == "" and err.startswith("error: ") and expected in err


def test_zoo_imports_without_the_format_libraries():
    """`zoo` and its registry verbs work without markdown-it-py, huggingface_hub and pandas (the `zoo` extra)."""
    code = (
        "import sys\n"
        "for name in ('markdown_it', 'huggingface_hub', 'pandas', 'torch'):\n"
        "    sys.modules[name] = None\n"
        "from zoo.cli import main\n"
        "assert main(['list']) == 0\n"
        "assert main(['search']) == 2\n"  # a clear error naming the extra, not an ImportError traceback
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "pip install 'hrnet-zoo[zoo]'" in done.stderr
