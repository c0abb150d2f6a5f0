"""Grouping in worker processes (`predict_bottomup_dataset(pool=)`, harness/bottomup/parallel.py) writes the serial
path's records bit for bit: single- and multi-scale, both eras' stage aggregation, both heads, on the sample images
(every record compared with ==, floats included). The model is a tiny seeded convolution with the heads' output
layout: its maps are noisy enough to give several people per image and to exercise refine, yet cheap to run."""

from __future__ import annotations

import json

import pytest
import torch

from harness.bottomup.inference import predict_bottomup_dataset
from harness.bottomup.parallel import default_workers, grouping_pool
from tests.helpers.protocols import bottomup_protocol
from zoo.registry.load import load_registry

CASES = [  # (dataset, annotation file, higher-resolution head, stage aggregation: the eras')
    ("coco", "coco/test_coco.json", True, "upsample_to_last"),
    ("coco", "coco/test_coco.json", True, "direct"),
    ("aic", "aic/test_aic.json", False, "direct"),
]


class _TinyBottomUp(torch.nn.Module):
    """[1, 3, H, W] -> [[1, 2K, H/4, W/4]] (AE) or [[1, 2K, H/4, W/4], [1, K, H/2, W/2]] (HigherHRNet)."""

    def __init__(self, k: int, *, higher: bool, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.k, self.higher = k, higher
        self.w4 = torch.nn.Parameter(torch.randn(2 * k, 3, 4, 4, generator=gen) * 0.05)
        self.w2 = torch.nn.Parameter(torch.randn(k, 3, 2, 2, generator=gen) * 0.1)

    def forward(self, x):
        out = [torch.nn.functional.conv2d(x, self.w4, stride=4)]
        if self.higher:
            out.append(torch.nn.functional.conv2d(x, self.w2, stride=2))
        return out


def _predict(samples_dir, dataset, ann, higher, aggregation, scales, pool):
    schema = load_registry().schemas[dataset]
    protocol = bottomup_protocol(scales=scales, stage_aggregation=aggregation, grouping_max_groups=30)
    model = _TinyBottomUp(schema.num_keypoints, higher=higher, seed=5)
    return predict_bottomup_dataset(
        model, samples_dir / ann, samples_dir / dataset, protocol=protocol, schema=schema, input_size=256, pool=pool
    )


@pytest.fixture(scope="module")
def pool():
    with grouping_pool(2) as p:
        yield p


@pytest.mark.parametrize("scales", [(1.0,), pytest.param((2.0, 1.0, 0.5), marks=pytest.mark.slow)])
@pytest.mark.parametrize(("dataset", "ann", "higher", "aggregation"), CASES)
def test_workers_write_the_serial_records_bit_for_bit(samples_dir, pool, dataset, ann, higher, aggregation, scales):
    serial = _predict(samples_dir, dataset, ann, higher, aggregation, scales, None)
    parallel = _predict(samples_dir, dataset, ann, higher, aggregation, scales, pool)
    images = {img["id"] for img in json.loads((samples_dir / ann).read_text())["images"]}
    assert len(serial) >= 2 * len(images)  # people found: grouping and refine had work to do
    assert parallel == serial  # same order, same ids, every float ==


def test_zero_workers_is_the_serial_path_and_the_default_leaves_a_core():
    with grouping_pool(0) as p:
        assert p is None
    assert default_workers() >= 1
