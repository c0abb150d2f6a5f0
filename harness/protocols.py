"""Which protocol a run uses: the row's `published` one (default, PROTOCOLS.md §7) or `mmpose-0.29` (the oracle's
behaviour), plus command-line overrides, which are always recorded with the result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, get_args

from harness.errors import HarnessError
from zoo.registry.rules import scales_problem
from zoo.registry.schema import BoxSource, DocumentedRow, Era, Protocol, ProtocolName, TopDownProtocol

PROTOCOL_NAMES: tuple[str, ...] = get_args(ProtocolName)


def run_protocol(result: DocumentedRow, name: str) -> Protocol:
    """The protocol a run of this result row uses under `--protocol NAME` (before overrides), also what it is
    scored under.

    'published': the row's own protocol (the code of its era, PROTOCOLS.md §7).
    'mmpose-0.29': what MMPose 0.29.0 (0.x HEAD) does with the same checkpoint: un-shrunk GT boxes, direct bottom-up
    stage aggregation, no grouping truncation (PROTOCOLS.md §7, §8 items 3, 10), box scale rounded after the division
    in float32 (docs/PARITY.md), and the evaluator's own 0.29 form (`mmpose029()` of its record: xtcocotools for
    COCO-style scoring, for Horse-10 its generic 'PCK', PCK@0.2 by the longer bbox side; no NME, PROTOCOLS.md §5,
    §8 item 11; CrowdPose's keypoints_crowd and MPII's PCKh unchanged, PROTOCOLS.md §5, §11).
    """
    protocol = result.protocol
    if name == "published":
        return protocol
    if name != "mmpose-0.29":
        raise HarnessError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOL_NAMES)}")
    era = Era(
        name="mmpose-0.29",
        gt_box_shrink=False,
        stage_aggregation="direct" if protocol.paradigm == "bottomup" else None,
        grouping_max_groups=None,
        # mmpose 0.29's TopDownGetBboxCenterScale (bbox_xywh2cs) divides the float32 box size by 200.
        box_scale_rounding="size",
    )
    # Each evaluator kind declares its own 0.29 form (zoo.evaluators).
    return replace(protocol, era=era, evaluator=protocol.evaluator.mmpose029())


def apply_overrides(
    protocol: Protocol,
    *,
    flip: bool | None = None,
    scales: tuple[float, ...] | None = None,
    bbox_file: str | None = None,
) -> tuple[Protocol, dict[str, Any]]:
    """The protocol with command-line overrides applied, and the overrides that actually changed something
    (recorded in result.json; a run with overrides is never taken as a reproduction of the documented row).

    flip: None keeps the row's flip test; after this, `protocol.flip` is the one place it is read. scales must pass
    the rule the registry applies to zoo.yaml (zoo.registry.rules.scales_problem) for the row's paradigm. Called by
    harness.spec.build_spec, before any download or model build.
    """
    changes: dict[str, Any] = {}
    if flip is not None and flip != protocol.flip:
        changes["flip"] = flip
    if scales is not None:
        values = tuple(float(s) for s in scales)
        if problem := scales_problem(values, paradigm=protocol.paradigm):
            raise HarnessError(f"--scales: {problem}")
        if values != tuple(protocol.scales):
            changes["scales"] = values
    if bbox_file is not None:
        if not isinstance(protocol, TopDownProtocol):
            raise HarnessError("--bbox-file applies to top-down rows only")
        threshold = protocol.boxes.score_threshold
        changes["boxes"] = BoxSource(kind="detector", file=str(bbox_file), score_threshold=threshold)
    if not changes:
        return protocol, {}
    recorded = {
        k: (v.file if isinstance(v, BoxSource) else list(v) if isinstance(v, tuple) else v) for k, v in changes.items()
    }
    return replace(protocol, **changes), recorded
