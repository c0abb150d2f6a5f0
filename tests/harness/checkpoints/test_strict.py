"""Strict loading: MMPose-format random checkpoints of every architecture load; mismatches name their cause."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from harness.checkpoints.safe_load import load_checkpoint
from harness.checkpoints.strict import load_state_dict_strict
from harness.errors import CheckpointError, StateDictMismatchError
from harness.models.hrnet import build_timm_hrnet
from harness.models.posenet import build_model
from harness.models.random_weights import make_random_checkpoint
from zoo.registry.schema import Architecture

# PROTOCOLS.md §1.3 configurations: (head, width, K)
ALL_ARCHS = [
    ("heatmap", 32, 14), ("heatmap", 32, 17), ("heatmap", 32, 15), ("heatmap", 32, 22),
    ("heatmap", 48, 17), ("heatmap", 48, 15), ("heatmap", 48, 22),
    ("associative_embedding", 32, 14), ("higher_resolution", 32, 17), ("higher_resolution", 48, 17),
]  # fmt: skip
HEADS = ["heatmap", "associative_embedding", "higher_resolution"]


def arch(head: str, width: int = 8, k: int = 5) -> Architecture:
    return Architecture("hrnet", width, head, (64, 64), ((16, 16),), k, "test")  # type: ignore[arg-type]


def _with_prefix(path: Path, out: Path) -> Path:
    ck = load_checkpoint(path)
    torch.save({"state_dict": OrderedDict((f"module.{k}", v) for k, v in ck.state_dict.items()), "meta": {}}, out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("head", "width", "k"), ALL_ARCHS, ids=str)
def test_every_protocol_architecture_loads_strictly(tmp_path: Path, head: str, width: int, k: int) -> None:
    torch.set_num_threads(1)
    a = arch(head, width, k)
    path = make_random_checkpoint(a, tmp_path / "r.pth", seed=1, calibrate_bn=False)
    ck = load_checkpoint(path)
    model = build_model(a)
    assert load_state_dict_strict(model, ck.state_dict).ok
    assert torch.equal(model.state_dict()["backbone.conv1.weight"], ck.state_dict["backbone.conv1.weight"])


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("prefixed", [False, True], ids=["plain", "module"])
def test_small_checkpoints_load_with_and_without_module_prefix(tmp_path: Path, head: str, prefixed: bool) -> None:
    a = arch(head)
    path = make_random_checkpoint(a, tmp_path / "r.pth", seed=2, input_size=(64, 64))
    if prefixed:
        path = _with_prefix(path, tmp_path / "m.pth")
    ck = load_checkpoint(path)
    model = build_model(a)
    load_state_dict_strict(model, ck.state_dict)
    assert all(torch.equal(v, ck.state_dict[k]) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def td_sd(tmp_path_factory) -> dict:
    path = make_random_checkpoint(arch("heatmap"), tmp_path_factory.mktemp("ck") / "td.pth", seed=0, calibrate_bn=False)
    return load_checkpoint(path).state_dict


def test_wrong_width_is_named(td_sd) -> None:
    with pytest.raises(StateDictMismatchError, match="wrong HRNet width") as err:
        load_state_dict_strict(build_model(arch("heatmap", width=16)), td_sd)
    assert "width 8" in str(err.value)
    assert "model (16, 256, 3, 3) vs checkpoint (8, 256, 3, 3)" in str(err.value)  # shapes listed
    assert "... and" in str(err.value)  # long listings are summarised with counts
    assert err.value.diff.mismatched and isinstance(err.value, CheckpointError)


def test_wrong_keypoint_count_is_named(td_sd) -> None:
    with pytest.raises(
        StateDictMismatchError, match=r"wrong keypoint count.*\(5, \.\.\.\) in the file vs \(17, \.\.\.\)"
    ):
        load_state_dict_strict(build_model(arch("heatmap", k=17)), td_sd)


def test_missing_keys_are_named(td_sd) -> None:
    partial = {k: v for k, v in td_sd.items() if not k.startswith("backbone.stage4.")}
    with pytest.raises(StateDictMismatchError, match="786 missing") as err:
        load_state_dict_strict(build_model(arch("heatmap")), partial)
    assert "incomplete" in str(err.value)
    assert len(err.value.diff.missing) == 786 and not err.value.diff.unexpected


def test_wrong_head_type_is_named(td_sd) -> None:
    with pytest.raises(StateDictMismatchError, match="wrong head type"):
        load_state_dict_strict(build_model(arch("higher_resolution")), td_sd)


def test_multiscale_backbone_is_named(td_sd) -> None:
    timm_sd = {f"backbone.{k}": v for k, v in build_timm_hrnet(8).state_dict().items()}
    sd = {**td_sd, **timm_sd}
    with pytest.raises(StateDictMismatchError, match="fuses into every branch"):
        load_state_dict_strict(build_model(arch("heatmap")), sd)


def test_foreign_keys_are_named(td_sd) -> None:
    sd = {k.replace("backbone.", "encoder.", 1): v for k, v in td_sd.items()}
    with pytest.raises(StateDictMismatchError, match="not MMPose PoseNet keys"):
        load_state_dict_strict(build_model(arch("heatmap")), sd)


def test_failed_strict_load_leaves_model_untouched(td_sd) -> None:
    model = build_model(arch("heatmap", k=17))
    before = model.backbone.conv1.weight.clone()
    with pytest.raises(StateDictMismatchError):
        load_state_dict_strict(model, td_sd)
    assert torch.equal(model.backbone.conv1.weight, before)


def test_integer_values_where_the_model_has_floats_are_refused(td_sd) -> None:
    model = build_model(arch("heatmap"))
    sd = dict(td_sd)
    sd["backbone.conv1.weight"] = sd["backbone.conv1.weight"].round().long()
    sd["keypoint_head.final_layer.bias"] = sd["keypoint_head.final_layer.bias"] > 0
    before = model.state_dict()["backbone.conv1.weight"].clone()
    with pytest.raises(StateDictMismatchError, match="bool/int64 values where the model has floating-point") as info:
        load_state_dict_strict(model, sd)
    assert [k for k, _, _ in info.value.diff.wrong_dtype] == ["backbone.conv1.weight", "keypoint_head.final_layer.bias"]
    assert "bool" in str(info.value) and "backbone.conv1.weight: model float32 vs checkpoint int64" in str(info.value)
    assert torch.equal(model.state_dict()["backbone.conv1.weight"], before)  # nothing was copied
