"""Raw network forward of an MMPose checkpoint (runs inside the oracle venv).

    forward.py --config CONFIG --checkpoint FILE.pth --inputs X.npy --out Y.npz

Builds the model from the config, loads the checkpoint strictly (missing, unexpected or mis-shaped keys are an
error, exit 3), switches to eval mode and runs backbone + head on the float32 batch X [N, 3, H, W] with no test-time
post-processing. Y.npz holds every head output in order as `output_0`, `output_1`, ... (float32): one for top-down
and AE ([N, K, H/4, W/4] / [N, 2K, H/4, W/4]), two for HigherHRNet ([N, 2K, H/4, W/4], [N, K, H/2, W/2]).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common
import numpy as np
import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--inputs", required=True, type=Path, help=".npy float32 [N, 3, H, W]")
    ap.add_argument("--out", required=True, type=Path, help=".npz to write")
    args = ap.parse_args()

    x = np.load(args.inputs, allow_pickle=False)
    if x.ndim != 4 or x.shape[1] != 3 or x.dtype != np.float32:
        raise _common.OracleScriptError(f"inputs must be float32 [N, 3, H, W]; got {x.dtype} {list(x.shape)}")
    cfg = _common.load_config(args.config)
    model = _common.build_model(cfg)
    try:
        _common.load_strict(model, args.checkpoint)
    except RuntimeError as exc:  # mmcv's strict load lists missing/unexpected/mis-shaped keys
        print(f"error: {args.checkpoint} does not load strictly into {args.config}:\n{exc}", file=sys.stderr)
        return 3
    model.eval()
    with torch.no_grad():
        outs = _common.raw_forward(model, torch.from_numpy(x))
    arrays = {f"output_{i}": o.detach().cpu().numpy().astype(np.float32, copy=False) for i, o in enumerate(outs)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(args.out)
    print({k: list(v.shape) for k, v in arrays.items()})
    return 0


if __name__ == "__main__":
    _common.run_main(main)
