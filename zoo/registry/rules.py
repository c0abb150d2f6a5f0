"""Rules a protocol's values must satisfy, written once: the registry reader applies them to zoo.yaml
(zoo.registry.protocol_reader) and the harness to a run's overrides (harness.protocols.apply_overrides), so `--scales`
is refused exactly when the same scales in zoo.yaml would be, and before any download or model build.

Each rule returns what is wrong as one sentence (naming the values), or None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from zoo.registry.schema import Paradigm


def scales_problem(values: Sequence[float], *, paradigm: Paradigm) -> str | None:
    """What is wrong with a protocol's test scales, or None.

    Bottom-up (PROTOCOLS.md §4): at least one, finite, positive, distinct, and 1 among them (the tag maps come from
    scale 1). Top-down (PROTOCOLS.md §3): single-scale, exactly [1].
    """
    shown = [float(v) for v in values]
    if paradigm == "topdown":
        if shown != [1.0]:
            return (
                f"top-down protocols are single-scale (scales [1]; multi-scale applies to bottom-up rows only), "
                f"got {shown}"
            )
        return None
    if not shown:
        return "expected at least one scale"
    if not all(math.isfinite(v) and v > 0 for v in shown):
        return f"scales must be finite positive numbers, got {shown}"
    if len(set(shown)) != len(shown):
        return f"scales must be distinct, got {shown}"
    if 1.0 not in shown:
        return f"scales must include 1 (the tag maps come from scale 1, PROTOCOLS.md §4), got {shown}"
    return None


def kernel_problem(size: int) -> str | None:
    """What is wrong with a decoder's Gaussian kernel size, or None: OpenCV's GaussianBlur takes odd sizes only
    (PROTOCOLS.md §3.1)."""
    if size < 1 or size % 2 == 0:
        return f"the Gaussian kernel size must be odd and positive, got {size}"
    return None
