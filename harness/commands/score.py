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
from dataclasses import replace
from typing import Any

from harness.metrics import BBOX_NORMALIZER, MetricError, score
from zoo.schema import Era, Evaluator, Protocol, Registry, Result

PROTOCOL_NAMES = ("published", "mmpose-0.29")


def resolve_protocol(result: Result, name: str) -> Protocol:
    """The protocol a result row is scored under.

    'published': the row's own protocol (the code of its era, PROTOCOLS.md §7).
    'mmpose-0.29': what MMPose 0.29.0 (0.x HEAD) does with the same checkpoint: un-shrunk GT boxes, direct bottom-up
    stage aggregation, no grouping truncation (PROTOCOLS.md §7, §8.3, §8.10), xtcocotools for COCO-style scoring, and
    for Horse-10 its generic 'PCK' (PCK@0.2 by the longer bbox side; no NME, PROTOCOLS.md §5, §8.11).
    Scoring reads only the evaluator; the era switches are resolved here so both verbs agree on one definition.
    """
    protocol = result.protocol
    if name == "published":
        return protocol
    if name != "mmpose-0.29":
        raise MetricError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOL_NAMES)}.")
    era = Era(
        name="mmpose-0.29",
        gt_box_shrink=False,
        stage_aggregation="direct" if protocol.paradigm == "bottomup" else None,
        grouping_max_groups=None,
    )
    ev = protocol.evaluator
    if ev.kind == "coco_keypoints":
        evaluator = replace(ev, library="xtcocotools")
    else:
        evaluator = Evaluator(kind="pck_nme", pck_threshold=0.2, normalize=BBOX_NORMALIZER)  # type: ignore[arg-type]
    return replace(protocol, era=era, evaluator=evaluator)


def _registry() -> Registry:
    from zoo.load import load_registry

    return load_registry()


def _result_row(registry: Registry, row_id: str, row: str | None) -> Result:
    if row:
        return registry.result(f"{row_id.partition('/')[0]}/{row}")
    if "/" in row_id:
        return registry.result(row_id)
    entry = registry.entry(row_id)
    if len(entry.results) == 1:
        return entry.results[0]
    names = ", ".join(r.name for r in entry.results)
    raise MetricError(f"entry {row_id!r} has {len(entry.results)} result rows ({names}); choose one with --row NAME.")


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
    result = _result_row(registry, args.id, args.row)
    protocol = resolve_protocol(result, args.protocol)
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
    p.add_argument("--row", metavar="NAME", help="result row of the entry (needed when it has several)")
    p.add_argument(
        "--no-per-keypoint", action="store_true", help="skip the per-joint AP breakdown (K extra evaluations)"
    )
    p.set_defaults(func=run)
