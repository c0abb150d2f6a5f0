"""The fp16 row (MMPose 0.x `fp16` config, PROTOCOLS.md §3.2) runs only in the arithmetic it was documented with."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.spec import build_spec
from zoo import load_registry

FP16_ROW = "hrnet_w32_coco_256x192_fp16_dynamic/det-ap56"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.mark.parametrize("mode", ["tuned", "fast"])
def test_fp16_row_refuses_modes_that_change_its_arithmetic(registry, mode):
    row = registry.row(FP16_ROW)
    assert row.protocol.precision == "fp16"
    with pytest.raises(HarnessError, match=r"fp16 as documented; --mode .* use --mode exact"):
        build_spec(registry, row, data=None, mode=mode, device="cpu")


def test_fp16_row_builds_in_exact_mode_and_fp32_rows_in_tuned(registry):
    assert (
        build_spec(registry, registry.row(FP16_ROW), data=None, mode="exact", device="cpu").protocol.precision == "fp16"
    )
    plain = registry.row("hrnet_w32_coco_256x192/det-ap56")
    assert build_spec(registry, plain, data=None, mode="tuned", device="cpu").settings.mode == "tuned"
