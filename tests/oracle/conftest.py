"""Fixtures of the parity tests against the MMPose 0.29 oracle (PARITY.md "The oracle environment"). Every test here is
marked `oracle`.

The oracle venv (.oracle/venv) is separate from the project's. HRNET_ZOO_ORACLE=1 (set by `nox -s parity`) builds
it on first use; HRNET_ZOO_ORACLE=0 always skips; unset, the tests run when it is already built and skip otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.oracle import BUILD_SCRIPT, VENV, ensure_oracle_env, oracle_python, run_oracle
from zoo import settings

ENV_SWITCH = settings.ORACLE.name
#: Per-call limits on the 2-core machine (top-down calls take ~15 s, HigherHRNet W48 at 512 about a minute).
TIMEOUT_WEIGHTS = 900.0
TIMEOUT_FORWARD = 600.0


@dataclass(frozen=True)
class Oracle:
    """The built oracle: its python, and a scratch folder for the files its scripts exchange with the tests."""

    python: Path
    workdir: Path

    def run(self, script: str, *args: object, timeout: float = TIMEOUT_FORWARD):
        return run_oracle(script, *args, timeout=timeout, python=self.python)

    def forward(self, config: str, checkpoint: Path, inputs: np.ndarray, *, name: str) -> list[np.ndarray]:
        """oracle/forward.py on a float32 batch [N, 3, H, W]; the head outputs in order."""
        x_path = self.workdir / f"{name}-inputs.npy"
        y_path = self.workdir / f"{name}-outputs.npz"
        np.save(x_path, np.ascontiguousarray(inputs, dtype=np.float32))
        self.run("forward", "--config", config, "--checkpoint", checkpoint, "--inputs", x_path, "--out", y_path)
        with np.load(y_path) as z:
            return [z[f"output_{i}"] for i in range(len(z.files))]


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    switch = settings.ORACLE.raw() or ""
    if switch == "0":
        pytest.skip(f"{ENV_SWITCH}=0: oracle parity tests disabled")
    python = oracle_python()
    if python is None:
        if switch != "1":
            pytest.skip(
                f"the MMPose 0.29 oracle venv ({VENV}) is not built: run `nox -s parity` (or set "
                f"{ENV_SWITCH}=1, or build it with `python3 {BUILD_SCRIPT.relative_to(BUILD_SCRIPT.parents[1])}`)"
            )
        python = ensure_oracle_env()
    return Oracle(python=python, workdir=tmp_path_factory.mktemp("oracle-io"))


@pytest.fixture(scope="session")
def oracle_checkpoint(oracle: Oracle, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`oracle_checkpoint(config, seed, calib_size=None) -> Path`: a seeded random MMPose-format checkpoint made by
    oracle/make_weights.py (BN recalibrated at `calib_size` (H, W), default the config's input size). Generated
    once per session and argument set."""
    cache: dict[tuple[str, int, tuple[int, int] | None], Path] = {}
    folder = tmp_path_factory.mktemp("oracle-weights")

    def make(config: str, seed: int, calib_size: tuple[int, int] | None = None) -> Path:
        key = (config, seed, tuple(calib_size) if calib_size else None)
        if key not in cache:
            stem = Path(config).stem
            size = f"-{calib_size[0]}x{calib_size[1]}" if calib_size else ""
            out = folder / f"{stem}-seed{seed}{size}.pth"
            args = ["--config", config, "--out", out, "--seed", seed]
            if calib_size:
                args += ["--calib-size", *calib_size]
            oracle.run("make_weights", *args, timeout=TIMEOUT_WEIGHTS)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(autouse=True)
def _one_thread():
    """Our side runs with one thread, as the oracle subprocess does (harness/oracle.py): fp32 reductions then
    happen in the same order on both sides. The thread count is restored by tests/conftest.py."""
    import torch

    torch.set_num_threads(1)
    yield
