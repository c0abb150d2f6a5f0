"""Run arguments are checked once, by the registry's rules, before any download or model build (issues 13/14):
`--scales` that the registry would reject never reaches the first image."""

from __future__ import annotations

import pytest

from harness.cli import main

BOTTOMUP = "higher_hrnet32_coco_512x512/multi-scale"


@pytest.mark.parametrize(
    ("scales", "message"),
    [
        ("1,1", "scales must be distinct"),
        ("nan", "scales must be finite positive numbers"),
        ("2", "scales must include 1"),
        ("1,-0.5", "scales must be finite positive numbers"),
        ("a,b", "expected comma-separated numbers"),
    ],
)
def test_bad_scales_are_refused_before_anything_runs(tmp_path, capsys, scales, message):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", BOTTOMUP, "--scales", scales, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_scales_on_a_topdown_row_is_refused_before_anything_runs(tmp_path, capsys):
    rc = main(["evaluate", "hrnet_w32_aic_256x192", "--scales", "1,2", "--out", str(tmp_path / "o"), "--offline"])
    assert rc == 2 and "--scales applies to bottom-up rows only" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
