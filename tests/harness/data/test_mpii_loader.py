"""MPII's json (harness/data/mpii.py, PROTOCOLS.md §11): the annotation's center moved down by 15 x scale and made
0-based in float32, the scale kept for the protocol's padding, one instance per record in file order, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.data.mpii import load_mpii_instances, mpii_tables, read_mpii_annotations
from harness.errors import DataError
from harness.topdown.inference import given_center_scale
from tests.helpers.mpii import write_gt_mat


def _write(tmp_path, records):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(records))
    return path


def test_sample_instances(samples_dir):
    folder = samples_dir / "mpii"
    loaded = load_mpii_instances(folder / "test_mpii.json", img_dir=folder)
    records = json.loads((folder / "test_mpii.json").read_text())
    assert [i.bbox_id for i in loaded.instances] == list(range(len(records))) == list(range(5))
    assert [i.image_path.name for i in loaded.instances] == [r["image"] for r in records]
    first, rec = loaded.instances[0], records[0]
    s = np.float32(rec["scale"])
    assert first.center == (np.float32(rec["center"][0]) - 1, np.float32(rec["center"][1]) + 15 * s - 1)
    assert first.scale == float(s)
    side = float(s) * 200
    assert first.bbox[2:] == (side, side) and first.bbox[0] + side / 2 == first.center[0]
    assert loaded.report.kept == 5 and loaded.image_files[first.image_id] == rec["image"]


def test_center_and_scale_reach_the_crop_padded_in_float32(samples_dir):
    folder = samples_dir / "mpii"
    inst = load_mpii_instances(folder / "test_mpii.json", img_dir=folder).instances[:2]
    centers, scales = np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)
    given_center_scale(inst, centers, scales, padding=1.25)
    assert centers[1].tolist() == list(inst[1].center)
    assert scales.dtype == np.float32 and scales[0].tolist() == [np.float32(inst[0].scale) * np.float32(1.25)] * 2


def test_a_center_x_of_minus_one_is_not_moved_down(tmp_path):
    path = _write(tmp_path, [{"image": "a.jpg", "center": [-1, 50], "scale": 2.0}])
    assert read_mpii_annotations(path)[0].center == (-2.0, 49.0)


def test_image_ids_follow_first_appearance(tmp_path):
    recs = [{"image": n, "center": [10, 10], "scale": 1} for n in ("b.jpg", "a.jpg", "b.jpg")]
    persons = read_mpii_annotations(_write(tmp_path, recs))
    assert [p.image_id for p in persons] == [1, 2, 1]
    tables = mpii_tables(persons)
    assert tables["images"] == [{"id": 1, "file_name": "b.jpg"}, {"id": 2, "file_name": "a.jpg"}]
    assert tables["annotations"] == [{"id": 0, "image_id": 1}, {"id": 1, "image_id": 2}, {"id": 2, "image_id": 1}]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"images": []}, "not a JSON list of persons"),
        ([3], r"record \[0\] is 3, not a JSON object"),
        ([{"center": [1, 2], "scale": 1}], "'image' null, expected an image file name"),
        ([{"image": "a.jpg", "center": [1], "scale": 1}], "'center' \\[1\\], expected 2 finite numbers"),
        ([{"image": "a.jpg", "center": [1, "2"], "scale": 1}], "expected 2 finite numbers"),
        ([{"image": "a.jpg", "center": [1, 2], "scale": 0}], "'scale' 0, expected a finite number > 0"),
        ([{"image": "a.jpg", "center": [1, 2], "scale": True}], "'scale' true"),
    ],
)
def test_bad_records_are_named(tmp_path, content, words):
    with pytest.raises(DataError, match=words):
        read_mpii_annotations(_write(tmp_path, content))


def test_missing_images_are_named(tmp_path):
    path = _write(tmp_path, [{"image": "absent.jpg", "center": [10, 10], "scale": 1}])
    with pytest.raises(DataError, match=r"absent\.jpg"):
        load_mpii_instances(path, img_dir=tmp_path)


def test_data_check_reads_mpii_by_its_format(tmp_path, samples_dir, capsys):
    """`data check mpii` reads the list-shaped MPII file with its own reader (not as COCO JSON), checks its images,
    and names a file that is not MPII's."""
    import shutil

    from harness.cli import main

    ann = tmp_path / "mpii" / "annotations"
    images = tmp_path / "mpii" / "images"
    ann.mkdir(parents=True)
    images.mkdir(parents=True)
    shutil.copy(samples_dir / "mpii" / "test_mpii.json", ann / "mpii_val.json")
    write_gt_mat(ann / "mpii_val.json", ann / "mpii_gt_val.mat")
    for jpg in (samples_dir / "mpii").glob("*.jpg"):
        shutil.copy(jpg, images / jpg.name)
    assert main(["data", "check", "mpii", "--data-root", str(tmp_path)]) == 0
    assert "5 images" in capsys.readouterr().out
    (ann / "mpii_val.json").write_text('{"images": []}', encoding="utf-8")
    assert main(["data", "check", "mpii", "--data-root", str(tmp_path)]) != 0
    assert "is not an MPII annotation file" in capsys.readouterr().err
