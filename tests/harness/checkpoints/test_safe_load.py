"""Safe loading: weights_only=True with a scoped allow-list; code-executing pickles are refused unexecuted."""

from __future__ import annotations

import io
import os
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.checkpoints.safe_load import load_checkpoint
from harness.errors import CheckpointError, UnsafeCheckpointError


def _sd() -> OrderedDict:
    return OrderedDict(
        [("backbone.conv1.weight", torch.randn(4, 3, 3, 3)), ("backbone.bn1.num_batches_tracked", torch.tensor(5))]
    )


class _Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_code_executing_pickle_is_refused_and_never_runs(tmp_path: Path, zip_format: bool) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": _sd(), "meta": {"x": _Evil(marker)}}, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(path)
    assert not marker.exists()
    msg = str(err.value)
    assert "system" in msg  # names the offending global (posix.system / os.system)
    assert "NOT loaded" in msg and "re-save" in msg  # and says what to do
    assert isinstance(err.value, CheckpointError) and isinstance(err.value, ValueError)


def test_unknown_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cls.pth"
    torch.save({"state_dict": _sd(), "meta": {"p": Path("/x")}}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"pathlib\.\w*Path"):
        load_checkpoint(path)


def test_mmpose_format_with_numpy_meta_and_optimizer(tmp_path: Path) -> None:
    meta = {
        "epoch": np.int64(210),
        "best": np.float64(0.75),
        "f32": np.float32(1.5),
        "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
        "dt": np.dtype("float64"),
        "od": OrderedDict(a=1),
        "cfg": "model = dict(...)",
    }
    sd = _sd()
    path = tmp_path / "m.pth"
    torch.save({"state_dict": sd, "meta": meta, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, path)
    ck = load_checkpoint(path)
    assert ck.format == "mmpose" and ck.other_keys == ("optimizer",) and ck.stripped_prefix is None
    assert ck.meta["epoch"] == 210 and isinstance(ck.meta["epoch"], np.int64)
    assert np.array_equal(ck.meta["arr"], meta["arr"]) and ck.meta["dt"] == np.float64
    assert all(torch.equal(ck.state_dict[k], sd[k]) for k in sd)


def _rewrite_pickle(path: Path, old: bytes, new: bytes) -> None:
    """Rename a global inside a torch zip checkpoint's data.pkl (GLOBAL opcodes are newline-terminated text)."""
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
        for info, data in items:
            if info.filename.endswith("/data.pkl"):
                assert old in data
                data = data.replace(old, new)
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


def test_numpy1_global_names_load(tmp_path: Path) -> None:
    """Files written under numpy 1.x (the published ones) name numpy.core.multiarray.scalar."""
    path = tmp_path / "np1.pth"
    torch.save({"state_dict": _sd(), "meta": {"best": np.float64(0.5), "a": np.ones(2)}}, path)
    _rewrite_pickle(path, b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    ck = load_checkpoint(path)
    assert ck.meta["best"] == 0.5 and list(ck.meta["a"]) == [1.0, 1.0]


def test_bare_state_dict_and_module_prefix(tmp_path: Path) -> None:
    sd = _sd()
    bare = tmp_path / "bare.pth"
    torch.save(sd, bare)
    ck = load_checkpoint(bare)
    assert ck.format == "bare" and ck.meta == {} and list(ck.state_dict) == list(sd)
    wrapped = tmp_path / "module.pth"
    torch.save({"state_dict": OrderedDict((f"module.{k}", v) for k, v in sd.items()), "meta": {}}, wrapped)
    ck = load_checkpoint(wrapped)
    assert list(ck.state_dict) == list(sd) and ck.stripped_prefix == "module."


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"a": 1}, "not an MMPose checkpoint"),
        ([torch.ones(1)], "not an MMPose checkpoint"),
        ({"state_dict": {"a": 1}}, "not tensors"),
    ],
)
def test_not_a_checkpoint(tmp_path: Path, obj: object, match: str) -> None:
    path = tmp_path / "x.pth"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_missing_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pth")
    path = tmp_path / "t.pth"
    torch.save({"state_dict": _sd()}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_allow_list_is_scoped_to_the_load(tmp_path: Path) -> None:
    path = tmp_path / "m.pth"
    torch.save({"state_dict": _sd(), "meta": {"e": np.int64(1)}}, path)
    before = list(torch.serialization.get_safe_globals())
    load_checkpoint(path)
    assert torch.serialization.get_safe_globals() == before
    assert not any("numpy" in str(g) for g in before)


def test_no_weights_only_false_in_the_package() -> None:
    import harness

    root = Path(harness.__file__).parent
    offenders = [p for p in root.rglob("*.py") if "weights_only=False" in p.read_text().replace(" ", "")]
    assert offenders == []
