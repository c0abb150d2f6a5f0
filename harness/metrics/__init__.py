"""Scoring predictions against annotations: COCO-style AP/AR (coco.py), Horse-10 PCK/NME (pck.py), CrowdPose AP with
its crowd bins (crowdpose.py), MPII PCKh (pckh.py), dispatched by evaluator kind through one table
(harness.metrics.evaluators; the kinds are zoo.evaluators').

Running the model is separate from scoring it (DESIGN.md principle 5): predictions may come from any producer.
"""

from __future__ import annotations

from zoo.evaluators.pck_nme import PckNormalizer

#: The PCK/NME normaliser of the mmpose 0.29 Horse-10 'PCK' (longer GT bbox side, PROTOCOLS.md §5).
BBOX_NORMALIZER: PckNormalizer = "bbox_longer_side"
