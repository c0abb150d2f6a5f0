"""Run arguments are checked once, by the registry's rules, before any download or model build (issues 13/14):
`--scales` that the registry would reject never reaches the first image, in `evaluate` and in `reproduce`, and the
registry refuses the same scales in zoo.yaml with the same words (zoo.registry.rules.scales_problem)."""

from __future__ import annotations

import pytest

import harness.checkpoints.store as store
import harness.models.entry as model_entry
from harness.cli import main

BOTTOMUP = "higher_hrnet32_coco_512x512/multi-scale"
TOPDOWN = "hrnet_w32_aic_256x192"


@pytest.fixture(autouse=True)
def nothing_heavy(monkeypatch):
    """A checkpoint fetch or a model build fails the test: the arguments must be refused before either."""

    def heavy(*args, **kwargs):
        raise AssertionError("a checkpoint fetch or a model build ran before the arguments were refused")

    monkeypatch.setattr(store, "fetch", heavy)
    monkeypatch.setattr(model_entry, "build_from_entry", heavy)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusals (not numbers at all)
        return exc.code


BAD_SCALES = [
    ("1,1", "scales must be distinct"),
    ("nan", "scales must be finite positive numbers"),
    ("2", "scales must include 1"),
    ("1,-0.5", "scales must be finite positive numbers"),
    ("inf,1", "scales must be finite positive numbers"),
    ("a,b", "expected comma-separated numbers"),
]


@pytest.mark.parametrize(("scales", "message"), BAD_SCALES)
def test_bad_scales_are_refused_before_anything_runs(tmp_path, capsys, scales, message):
    rc = _run(["evaluate", BOTTOMUP, "--scales", scales, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("scales", "message"), BAD_SCALES[:3])
def test_reproduce_refuses_bad_scales_before_anything_runs(tmp_path, capsys, scales, message):
    argv = ["reproduce", "--dataset", "coco", "--rows", BOTTOMUP, "--scales", scales, "--runs", str(tmp_path / "r")]
    rc = _run([*argv, "--data-root", str(tmp_path / "no-data"), "--no-report"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert not (tmp_path / "r").exists()


def test_scales_on_a_topdown_row_is_refused_before_anything_runs(tmp_path, capsys):
    rc = _run(["evaluate", TOPDOWN, "--scales", "1,2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "--scales: top-down protocols are single-scale" in err, err
    assert not (tmp_path / "o").exists()


def test_the_registry_refuses_the_same_scales_with_the_same_words(tmp_path):
    from tests.zoo.test_zoo_load import line_of, problems_of, variant

    for scales, message in BAD_SCALES[:3]:
        yaml_scales = "[" + scales.replace("nan", ".nan") + "]"
        path = variant(tmp_path, ("scales: [2, 1, 0.5]}", f"scales: {yaml_scales}}}"))
        problems = problems_of(path)
        line = line_of(path, f"scales: {yaml_scales}")
        assert any(f"(line {line}): {message}" in p for p in problems), problems
    path = variant(tmp_path, ("scales: [1]\n", "scales: [1, 2]\n"))
    assert any("top-down protocols are single-scale" in p for p in problems_of(path))
