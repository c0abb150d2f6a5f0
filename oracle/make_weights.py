"""Make a seeded random MMPose-format checkpoint for a 0.x config (runs inside the oracle venv).

    make_weights.py --config CONFIG --out FILE.pth --seed N [--calib-size H W] [--num-calib 3] [--calib-batch 2]

The model is built from the config the mmpose 0.29 wheel ships; every parameter is drawn from a seeded generator;
then batch-norm statistics are recalibrated (docs/PARITY.md: without it activations explode through HRNet's
depth): train
mode with BN momentum=None (cumulative average), `--num-calib` forward passes of seeded N(0,1) inputs, then eval.
The file is written by mmcv's own `save_checkpoint` (`{'meta': ..., 'state_dict': ...}`, keys without `module.`),
i.e. exactly as MMPose training wrote the published checkpoints. These files are the project's MMPose-format test
checkpoints for parity.
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import _common
import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def randomize_(model: nn.Module, gen: torch.Generator) -> None:
    """Seeded random parameters, scaled so that every layer (heads included) produces values of order one.

    Convolutions: N(0, 1/fan_in); conv biases N(0, 0.1^2); BN affine weight U(0.5, 1.5), bias N(0, 0.1^2). Random BN
    affines (instead of MMPose's constant 1/0 init) make a parity test notice a swapped or missed BN parameter.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
        elif isinstance(m, _BatchNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    # Anything else with parameters would stay at MMPose's init; HRNet and its heads have none.
    known = (nn.Conv2d, nn.ConvTranspose2d, _BatchNorm)
    other = [n for n, m in model.named_modules() if not isinstance(m, known) and list(m.parameters(recurse=False))]
    if other:
        raise _common.OracleScriptError(f"modules with parameters this script does not randomise: {other}")


def recalibrate_bn_(
    model: nn.Module, *, size_hw: tuple[int, int], num_calib: int, batch: int, gen: torch.Generator
) -> None:
    """Recompute BN running statistics as the plain average over `num_calib` batches of N(0,1) inputs."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for _ in range(num_calib):
            x = torch.randn((batch, 3, *size_hw), generator=gen)
            _common.raw_forward(model, x)
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    model.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="0.x config path (configs/...) or a config file")
    ap.add_argument("--out", required=True, type=Path, help="checkpoint to write (.pth)")
    ap.add_argument("--seed", required=True, type=int)
    ap.add_argument("--calib-size", nargs=2, type=int, metavar=("H", "W"), help="default: the config's input size")
    ap.add_argument("--num-calib", type=int, default=3, help="calibration forward passes (default 3)")
    ap.add_argument("--calib-batch", type=int, default=2, help="images per calibration pass (default 2)")
    args = ap.parse_args()
    if args.num_calib < 1 or args.calib_batch < 1:
        raise _common.OracleScriptError("--num-calib and --calib-batch must be >= 1")

    from mmcv.runner import save_checkpoint

    torch.manual_seed(args.seed)
    np.random.seed(args.seed % 2**32)
    random.seed(args.seed)
    cfg = _common.load_config(args.config)
    model = _common.build_model(cfg)
    size_hw = tuple(args.calib_size) if args.calib_size else _common.input_size_hw(cfg)
    gen = torch.Generator().manual_seed(args.seed)
    randomize_(model, gen)
    calib = dict(size_hw=size_hw, num_calib=args.num_calib, batch=args.calib_batch, gen=gen)
    recalibrate_bn_(model, **calib)

    meta = {
        "hrnet_zoo_random_weights": {
            "config": str(args.config),
            "seed": args.seed,
            "calib_size_hw": list(size_hw),
            "num_calib": args.num_calib,
            "calib_batch": args.calib_batch,
            "init": "conv N(0,1/fan_in), conv bias N(0,0.01), BN weight U(0.5,1.5), BN bias N(0,0.01)",
        },
        "versions": _common.versions(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    save_checkpoint(model, str(tmp), meta=meta)  # mmcv adds mmcv_version and time to meta
    tmp.replace(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    _common.run_main(main)
