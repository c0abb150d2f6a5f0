"""`python -m harness convert ID|--checkpoint PATH --out FILE.safetensors`: a checkpoint as safetensors.

With ID (and no --checkpoint) the entry's cached published file is converted after its sha256 prefix is checked;
with both, the given file is converted and checked against the entry's architecture (not its hash). The result
holds the state_dict bit for bit and the meta as JSON (`python -m harness inspect ID --checkpoint FILE` reads it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoo.registry.schema import Registry

# torch/timm are imported inside `run`: every verb module is imported to build `--help`.


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert a checkpoint to .safetensors (tensors bit for bit, meta as JSON)",
        description=__doc__.split("\n\n", 1)[0].split(": ", 1)[1],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", metavar="ID", nargs="?", help="entry id: convert its cached published file")
    p.add_argument("--checkpoint", type=Path, help="convert this .pth instead")
    p.add_argument("--out", type=Path, required=True, help="destination FILE.safetensors")
    p.set_defaults(func=run, _parser=p)


def _load_registry() -> Registry:
    """The registry (tests replace this function with a tiny one)."""
    from harness.models.entry import default_registry

    return default_registry()


def run(args: argparse.Namespace) -> int:
    from harness.checkpoints.convert import convert_to_safetensors
    from harness.checkpoints.safe_load import load_checkpoint
    from harness.checkpoints.strict import describe_diff, diff_state_dict
    from harness.errors import CheckpointError
    from harness.models.entry import cached_checkpoint
    from harness.models.posenet import build_model

    if args.id is None and args.checkpoint is None:
        args._parser.error("give an entry ID or --checkpoint PATH")
    if args.out.suffix != ".safetensors":
        args._parser.error(f"--out must end in .safetensors, got {args.out}")
    entry = _load_registry().entry(args.id) if args.id else None
    src, prefix = args.checkpoint, None
    if src is None and entry is not None:
        src, prefix = cached_checkpoint(entry), entry.checkpoint.sha256_prefix
        if src is None:
            raise CheckpointError(
                f"{entry.id}'s checkpoint is not cached: run `python -m harness fetch {entry.id}` first, "
                "or pass --checkpoint PATH"
            )
    if entry is not None:
        diff = diff_state_dict(build_model(entry.architecture, device="meta").state_dict(),
                               load_checkpoint(src).state_dict)  # fmt: skip
        if not diff.ok:
            print(f"warning: {src} does not fit {entry.id}:\n{describe_diff(diff)}", file=sys.stderr)
    result = convert_to_safetensors(src, args.out, expected_sha256_prefix=prefix)
    print(result.dst)
    return 0
