"""Image decoding (OpenCV semantics), the image cache, and data-layout resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from harness.data.images import ImageCache, decode_image_bytes, read_image
from harness.data.layout import missing_paths, resolve_split
from harness.errors import DataError
from zoo.registry.schema import DataSplit


def test_read_image_is_imdecode_bgr_to_rgb(samples_dir):
    path = samples_dir / "coco" / "000000000785.jpg"
    img = read_image(path)
    ref = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
    assert img.dtype == np.uint8 and img.shape == ref.shape and img.shape[2] == 3
    np.testing.assert_array_equal(img, ref)


def test_png_reads_as_three_channels(samples_dir):
    assert read_image(samples_dir / "horse10" / "0244.png").shape == (162, 288, 3)


def test_missing_and_undecodable_images_raise(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jpg does not exist .*expected in"):
        read_image(tmp_path / "nope.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(DataError, match=r"cannot decode image .*bad\.jpg"):
        read_image(bad)
    with pytest.raises(DataError, match="cannot decode"):
        decode_image_bytes(b"")


def test_cache_decodes_once_and_drops_after_last_use(samples_dir):
    a, b = samples_dir / "aic" / "054d9ce9201beffc76e5ff2169d2af2f027002ca.jpg", samples_dir / "atrw" / "000061.jpg"
    cache = ImageCache([a, a, b, a])
    first = cache.get(a)
    assert cache.get(a) is first and not first.flags.writeable
    cache.get(b)
    cache.get(a)
    assert cache.decodes == 2
    assert cache.get(a) is not first  # planned uses spent: decoded again
    assert cache.decodes == 3


def test_resolve_split_lists_every_missing_path(tmp_path):
    split = DataSplit(
        ann_file="data/coco/annotations/k.json", img_dir="data/coco/val2017", bbox_file="data/coco/d.json"
    )
    with pytest.raises(DataError) as err:
        resolve_split(split, tmp_path, dataset="coco", homepage="https://cocodataset.org")
    msg = str(err.value)
    for part in ("annotation file", "image folder", "detection box file", "Expected layout", "cocodataset.org"):
        assert part in msg
    (tmp_path / "data/coco/annotations").mkdir(parents=True)
    (tmp_path / "data/coco/annotations/k.json").write_text("{}")
    (tmp_path / "data/coco/val2017").mkdir()
    assert missing_paths(split, tmp_path) == [f"detection box file {tmp_path / 'data/coco/d.json'} does not exist"]
    (tmp_path / "data/coco/d.json").write_text("[]")
    r = resolve_split(split, tmp_path)
    assert r.ann_file == tmp_path / "data/coco/annotations/k.json" and r.bbox_file == tmp_path / "data/coco/d.json"
    assert resolve_split(DataSplit("data/coco/annotations/k.json", "data/coco/val2017"), tmp_path).bbox_file is None
