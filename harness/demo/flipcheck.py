"""Score a demo checkpoint on the val split three ways with harness/demo/topdown_simple.py: flip test on, off, and
with one flip pair broken (left/right shoulder not swapped), to show that the flip pairs matter on this data.

    python -m harness.demo.flipcheck demo/checkpoints/<file>.pth --data demo/data
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from harness.demo import generate as gen
from harness.demo import topdown_simple as td


def flip_indices() -> dict[str, list[int] | None]:
    """Correct flip permutation, none (flip test off), and one with pair (1, 2) left unswapped."""
    idx = list(range(len(gen.KEYPOINTS)))
    for a, b in gen.FLIP_PAIRS:
        idx[a], idx[b] = b, a
    broken = list(idx)
    broken[1], broken[2] = 1, 2
    return {"flip": idx, "no_flip": None, "flip_broken_pair": broken}


def check(model: torch.nn.Module, data: Path, *, input_size: tuple[int, int] = (128, 96)) -> dict:
    coco, insts, images = td.load_split(data, "val")
    out = {}
    for name, fi in flip_indices().items():
        res = td.predict(model, insts, images, input_size=input_size, flip_index=fi)
        out[name] = td.coco_ap(coco, res, gen.SIGMAS)
    return out


def main(argv: list[str] | None = None) -> None:
    from harness.checkpoints.safe_load import load_checkpoint
    from harness.demo.train import demo_architecture
    from harness.models.posenet import build_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data", type=Path, default=Path("demo/data"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build_model(demo_architecture())
    model.load_state_dict(load_checkpoint(args.checkpoint).state_dict, strict=True)
    t0 = time.perf_counter()
    out = check(model.eval(), args.data)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
