"""`python -m harness score ID --predictions F --ann-file F`: score a predictions file made by anything.

Predictions are COCO results (a JSON list of {image_id, category_id, keypoints [x, y, score] * K, score}; PCK also
reads an optional bbox_id, MPII's PCKh a required one, with its ground truth the .mat beside the annotation file).
The scoring semantics come from the entry's result row (evaluator, sigmas, use_area),
as published or as mmpose 0.29 would score them; the metrics are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from harness.commands import add_scoring_argument
from harness.metrics.evaluators import score, scorer_of
from harness.protocols import PROTOCOL_NAMES, run_protocol
from zoo.evaluators import Evaluator
from zoo.registry.schema import KeypointSchema, Registry


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


def _truth(ann_file, evaluator: Evaluator, annotations: str, schema: KeypointSchema) -> Any:
    """What the predictions are scored against: the annotation file, or the kind's own truth beside it, read and
    checked as `evaluate` reads it (PCKh: MPII's .mat, PROTOCOLS.md §11)."""
    if scorer_of(evaluator).read_truth is None:
        return ann_file
    from harness.data.loaders import read_tables
    from harness.metrics.evaluators import read_truth

    tables = read_tables(annotations, ann_file, schema=schema, evaluator=evaluator)
    return read_truth(evaluator, ann_file=ann_file, gt=tables, schema=schema)


def run(args: argparse.Namespace) -> int:
    registry = _registry()
    result = registry.row(args.id, args.row)
    protocol = run_protocol(result, args.protocol)
    evaluator = protocol.evaluator
    schema = registry.schemas[registry.datasets[result.dataset].keypoint_schema]
    sigmas = registry.schemas[evaluator.sigmas_schema].sigmas if evaluator.sigmas_schema else None
    gt = _truth(args.ann_file, evaluator, registry.datasets[result.dataset].annotations, schema)
    scored = score(
        args.predictions,
        evaluator=evaluator,
        gt=gt,
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
    p.add_argument(
        "--ann-file",
        required=True,
        metavar="F",
        help="annotation file the predictions are for (COCO-style JSON; MPII: its json, with the .mat beside it)",
    )
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
