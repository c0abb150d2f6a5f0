"""CrowdPose data (zoo.yaml `datasets: crowdpose`): `data check` accepts the sample laid out in the reference layout,
and a run refuses, before any inference, an annotation file whose images lack the crowd index its scoring reads."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.cli import main
from harness.data.annotations import validate_ground_truth
from harness.errors import DataError
from zoo import load_registry


def _lay_out(samples_dir, root):
    (root / "crowdpose/annotations").mkdir(parents=True)
    shutil.copytree(samples_dir / "crowdpose", root / "crowdpose/images", ignore=shutil.ignore_patterns("*.json"))
    shutil.copy(
        samples_dir / "crowdpose/test_crowdpose.json", root / "crowdpose/annotations/mmpose_crowdpose_test.json"
    )


def test_data_check_accepts_the_sample_in_the_reference_layout(samples_dir, tmp_path, capsys):
    root = tmp_path / "data"
    _lay_out(samples_dir, root)
    assert main(["data", "check", "crowdpose", "--data-root", str(root)]) == 0
    assert "crowdpose/test: 2 images, 5 annotations" in capsys.readouterr().out


@pytest.mark.parametrize("crowd_index", [None, float("nan")], ids=["missing", "nan"])
def test_a_run_refuses_images_without_a_crowd_index(samples_dir, tmp_path, crowd_index):
    registry = load_registry()
    row = registry.row("higher_hrnet32_crowdpose_512x512/single-scale")
    gt = json.loads((samples_dir / "crowdpose/test_crowdpose.json").read_text())
    if crowd_index is None:
        del gt["images"][1]["crowdIndex"]
    else:
        gt["images"][1]["crowdIndex"] = crowd_index
    ann = tmp_path / "ann.json"
    with pytest.raises(DataError, match=r"images\[1\] \(id 103319\) has .*crowdIndex"):
        validate_ground_truth(gt, ann, registry.schemas["crowdpose"], row.protocol.evaluator)
