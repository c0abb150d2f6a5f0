"""`python -m harness score ID --predictions F --ann-file F`: score a predictions file made by anything.

Predictions are COCO results (a JSON list of {image_id, category_id, keypoints [x, y, score] * K, score}; PCK also
reads an optional bbox_id). The scoring semantics come from the entry's result row (evaluator, sigmas, use_area),
as published or as mmpose 0.29 would score them; the metrics are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from harness.commands import add_scoring_argument
from harness.metrics import score
from harness.protocols import PROTOCOL_NAMES, run_protocol
from zoo.registry.schema import Registry


def _registry() -> Registry:
    from zoo.registry.load import load_registry

    return load_registry()


def _json_safe(obj: Any) -> Any:
    """NaN (a metric with nothing to count) becomes null, so stdout stays strict JSON."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    registry = _registry()
    result = registry.row(args.id, args.row)
    protocol = run_protocol(result, args.protocol)
    evaluator = protocol.evaluator
    schema = registry.schemas[registry.datasets[result.dataset].keypoint_schema]
    sigmas = registry.schemas[evaluator.sigmas].sigmas if evaluator.sigmas else None
    scored = score(
        args.predictions,
        evaluator=evaluator,
        gt=args.ann_file,
        schema=schema,
        sigmas=sigmas,
        per_keypoint=not args.no_per_keypoint,
        backend=args.scoring,
    )
    out = {
        "row": result.row_id,
        "dataset": result.dataset,
        "split": result.split,
        "protocol": args.protocol,
        "predictions": str(args.predictions),
        "ann_file": str(args.ann_file),
        **scored,
    }
    json.dump(_json_safe(out), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score a COCO-results predictions file under a result row's protocol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", metavar="ID", help="entry id, or ENTRY/ROW for one result row")
    p.add_argument("--predictions", required=True, metavar="F", help="COCO results JSON (list of predictions)")
    p.add_argument("--ann-file", required=True, metavar="F", help="COCO-style annotation JSON the predictions are for")
    p.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        default="published",
        help="scoring semantics: the row's published protocol (default) or mmpose 0.29's",
    )
    add_scoring_argument(p)
    p.add_argument("--row", metavar="NAME", help="result row of the entry (needed when it has several)")
    p.add_argument(
        "--no-per-keypoint", action="store_true", help="skip the per-joint AP breakdown (K extra evaluations)"
    )
    p.set_defaults(func=run)
