"""Output shapes of each head, determinism, channels_last, and the HigherHRNet concat order (PROTOCOLS.md §1.2)."""

from __future__ import annotations

import copy

import pytest
import torch

from harness.errors import InputSizeError
from harness.models.posenet import build_model
from harness.models.random_weights import make_random_model
from zoo.registry.schema import Architecture

K = 5


def arch(head: str, width: int = 8) -> Architecture:
    return Architecture("hrnet", width, head, (64, 32), ((16, 8),), K, "test")  # type: ignore[arg-type]


def _as_list(y: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
    return y if isinstance(y, list) else [y]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _x(h: int = 64, w: int = 32, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(1))


def test_output_shapes() -> None:
    with torch.no_grad():
        td = build_model(arch("heatmap"))(_x(64, 96))
        ae = build_model(arch("associative_embedding"))(_x(64, 96))
        hhr = build_model(arch("higher_resolution"))(_x(64, 96))
    assert isinstance(td, torch.Tensor) and td.shape == (2, K, 16, 24)
    assert isinstance(ae, list) and len(ae) == 1 and ae[0].shape == (2, 2 * K, 16, 24)
    assert isinstance(hhr, list) and [t.shape for t in hhr] == [(2, 2 * K, 16, 24), (2, K, 32, 48)]


@pytest.mark.parametrize("head", ["heatmap", "associative_embedding", "higher_resolution"])
def test_deterministic_and_channels_last(head: str) -> None:
    model = make_random_model(arch(head), seed=3, input_size=(64, 32))
    x = _x()
    with torch.no_grad():
        a, b = _as_list(model(x)), _as_list(model(x.clone()))
        c = _as_list(model(x.contiguous(memory_format=torch.channels_last)))
        d = _as_list(copy.deepcopy(model).to(memory_format=torch.channels_last)(x))
    for ya, yb, yc, yd in zip(a, b, c, d, strict=True):
        assert ya.dtype == torch.float32 and torch.isfinite(ya).all()
        assert torch.equal(ya, yb)  # bit-identical run to run
        # channels_last takes other conv kernels: equal up to fp32 rounding, not bit for bit
        scale = ya.abs().max()
        assert ((ya - yc).abs().max() / scale) < 1e-4
        assert ((ya - yd).abs().max() / scale) < 1e-4


def test_higher_resolution_concatenates_feature_first() -> None:
    model = make_random_model(arch("higher_resolution"), seed=4, calibrate_bn=False)
    head = model.keypoint_head
    with torch.no_grad():
        # Zero the deconv's input channels C.. (where out0 goes if the feature comes first): out1 must then no longer
        # depend on final_layers.0.
        head.deconv_layers[0][0][0].weight[8:] = 0
        x = _x()
        before = model(x)
        head.final_layers[0].weight.add_(1.0)
        after = model(x)
    assert not torch.equal(before[0], after[0])
    assert torch.equal(before[1], after[1])


def test_input_not_multiple_of_32_is_a_named_error() -> None:
    with pytest.raises(InputSizeError, match="multiple of 32"):
        build_model(arch("heatmap"))(_x(64, 48))
