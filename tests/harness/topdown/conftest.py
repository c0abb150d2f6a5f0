"""Sample-set specifications for the top-down tests (PROTOCOLS.md §2.1, §3, §5), built directly as data so these
tests do not depend on the registry loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.data.coco_style import load_detection_instances, load_gt_instances
from harness.data.horse10 import load_horse10_instances
from harness.data.records import TopdownInstance

COCO_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
COCO_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087,
               0.087, 0.089, 0.089)  # fmt: skip


@dataclass(frozen=True)
class SampleSpec:
    name: str
    input_size: tuple[int, int]  # (H, W)
    padding: float
    flip_pairs: tuple[tuple[int, int], ...]
    num_keypoints: int


#: PROTOCOLS.md §2.1 (input sizes (H, W), padding; ATRW 1.0) and §3 (flip pairs; Horse-10 none).
SPECS = {
    "aic": SampleSpec("aic", (256, 192), 1.25, ((0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)), 14),
    "coco": SampleSpec("coco", (256, 192), 1.25, COCO_PAIRS, 17),
    "macaque": SampleSpec("macaque", (256, 192), 1.25, COCO_PAIRS, 17),
    "atrw": SampleSpec("atrw", (256, 256), 1.0, ((0, 1), (3, 5), (4, 6), (7, 10), (8, 11), (9, 12)), 15),
    "horse10": SampleSpec("horse10", (256, 256), 1.25, (), 22),
}


def load_sample(samples_dir: Path, name: str, *, boxes: str = "gt", shrink: bool = True) -> tuple[TopdownInstance, ...]:
    d = samples_dir / name
    if name == "horse10":
        return load_horse10_instances(d / "test_horse10.json", img_dir=d).instances
    if boxes == "det":
        return load_detection_instances(
            d / "test_coco_det_AP_H_56.json", ann_file=d / "test_coco.json", img_dir=d
        ).instances
    return load_gt_instances(d / f"test_{name}.json", img_dir=d, gt_box_shrink=shrink).instances


@pytest.fixture(scope="session")
def sample_specs() -> dict[str, SampleSpec]:
    return SPECS
