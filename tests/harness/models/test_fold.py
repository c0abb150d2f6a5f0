"""BN folding (harness.models.fold, used by the tuned and fast modes): every BatchNorm of every architecture is
folded, the function stays the same up to fp32 rounding, and what cannot be folded safely is refused."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from harness.errors import FoldError
from harness.models.fold import fold_batchnorm
from harness.models.posenet import build_model
from harness.runtime import RunSettings, prepare_model
from zoo.registry.load import load_registry


def _architectures() -> dict[str, object]:
    seen = {}
    for entry in load_registry().entries.values():
        a = entry.architecture
        seen.setdefault(f"{a.head}-w{a.width}", a)
    return seen


ARCHS = _architectures()


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters (fresh BNs are the identity and would prove nothing)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=gen)
            m.running_var.uniform_(0.3, 2.0, generator=gen)
            m.weight.data.uniform_(0.5, 1.5, generator=gen)
            m.bias.data.uniform_(-0.3, 0.3, generator=gen)
    return model


def _outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.inference_mode():
        out = model(x)
    return out if isinstance(out, list) else [out]


# The W48 nets have the module structure of the W32 net of their head, only slower to run.
@pytest.mark.parametrize("name", sorted(k for k, a in ARCHS.items() if a.width <= 32))
def test_every_batchnorm_folds_and_the_function_stays(name: str) -> None:
    arch = ARCHS[name]
    model = _randomise_bn(build_model(arch))
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    folded = fold_batchnorm(copy.deepcopy(model))
    assert n_bn > 50 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    # the state_dict loses exactly the BN entries and gains conv biases; the original module is untouched
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    x = torch.randn(1, 3, *arch.input_size, generator=torch.Generator().manual_seed(1))
    for a, b in zip(_outputs(model, x), _outputs(folded, x), strict=True):
        assert a.shape == b.shape
        rel = float((a - b).abs().max() / a.abs().max())
        assert 0 < rel < 1e-5, f"{name}: folded net differs by {rel:.2e} relative (0 means nothing was folded)"


def test_prepare_model_folds_and_uses_channels_last_only_off_exact() -> None:
    arch = ARCHS["heatmap-w8"] if "heatmap-w8" in ARCHS else ARCHS["heatmap-w32"]
    exact = prepare_model(build_model(arch), RunSettings(device="cpu", mode="exact"))
    tuned = prepare_model(build_model(arch), RunSettings(device="cpu", mode="tuned"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in exact.modules())
    assert exact.backbone.conv1.weight.is_contiguous()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in tuned.modules())
    w = tuned.backbone.conv1.weight
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


def test_training_mode_and_unpaired_batchnorm_are_refused() -> None:
    with pytest.raises(FoldError, match="eval-mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train())
    # a BN that does not directly follow a convolution cannot be folded: refused, not silently left in place
    odd = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4)).eval()
    with pytest.raises(FoldError, match=r"1 BatchNorm2d module\(s\) not folded \(2\).*--mode exact"):
        fold_batchnorm(odd)


def test_unknown_mode_and_misplaced_amp_dtype_are_refused() -> None:
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="unknown numeric mode 'turbo'"):
        RunSettings(device="cpu", mode="turbo")  # type: ignore[arg-type]
    with pytest.raises(HarnessError, match="needs --mode fast"):
        RunSettings(device="cpu", mode="tuned", autocast_dtype="bfloat16")
