"""`.pth` -> `.safetensors` round trip: tensors bit for bit, meta as JSON, source hash checked."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.checkpoints.convert import convert_to_safetensors, sha256_of
from harness.checkpoints.safe_load import load_checkpoint
from harness.checkpoints.strict import load_state_dict_strict
from harness.errors import CheckpointError
from harness.models.posenet import build_model
from harness.models.random_weights import make_random_checkpoint
from zoo.registry.schema import Architecture

ARCH = Architecture("hrnet", 8, "higher_resolution", (64, 64), ((16, 16), (32, 32)), 5, "test")


@pytest.fixture(scope="module")
def pth(tmp_path_factory) -> Path:
    return make_random_checkpoint(ARCH, tmp_path_factory.mktemp("c") / "hhr.pth", seed=5, input_size=(64, 64))


def test_round_trip_is_bit_exact(pth: Path, tmp_path: Path) -> None:
    result = convert_to_safetensors(pth, tmp_path / "hhr.safetensors", expected_sha256_prefix=sha256_of(pth)[:8])
    assert result.source_sha256 == sha256_of(pth)
    src, dst = load_checkpoint(pth), load_checkpoint(result.dst)
    # safetensors stores keys sorted; order carries no meaning for load_state_dict
    assert dst.format == "safetensors" and sorted(dst.state_dict) == sorted(src.state_dict)
    for k, v in src.state_dict.items():
        assert dst.state_dict[k].dtype == v.dtype and dst.state_dict[k].shape == v.shape
        assert torch.equal(dst.state_dict[k], v)
        assert dst.state_dict[k].numpy().tobytes() == v.numpy().tobytes()
    assert dst.meta["epoch"] == 210 and dst.meta["hook_msgs"]["best_score"] == 0.5  # numpy scalars -> JSON
    load_state_dict_strict(build_model(ARCH), dst.state_dict)


def test_hash_mismatch_writes_nothing(pth: Path, tmp_path: Path) -> None:
    dst = tmp_path / "x.safetensors"
    with pytest.raises(CheckpointError, match="expected prefix 00000000"):
        convert_to_safetensors(pth, dst, expected_sha256_prefix="00000000")
    assert list(tmp_path.iterdir()) == []


def test_module_prefix_and_meta_json(tmp_path: Path) -> None:
    src = tmp_path / "p.pth"
    sd = OrderedDict([("module.a", torch.arange(4.0)), ("module.b", torch.tensor(3))])
    torch.save({"state_dict": sd, "meta": {"x": np.float32(0.25), "arr": np.arange(3), "t": (1, 2)}}, src)
    out = convert_to_safetensors(src, tmp_path / "p.safetensors").dst
    ck = load_checkpoint(out)
    assert list(ck.state_dict) == ["a", "b"] and ck.meta == {"x": 0.25, "arr": [0, 1, 2], "t": [1, 2]}
    from safetensors import safe_open

    with safe_open(str(out), framework="pt") as f:
        md = f.metadata()
    assert json.loads(md["meta"])["x"] == 0.25 and md["format"] == "mmpose"
