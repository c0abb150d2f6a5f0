"""Records shared by the data loaders: one top-down instance (an image and a box) and a load report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class TopdownInstance:
    """One box to run the top-down model on.

    bbox is (x, y, w, h) in image pixels (float). GT-box datasets give the cleaned box (PROTOCOLS.md §5),
    detector boxes are used as-is, Horse-10 uses the raw annotation box; MPII gives center and scale instead, and
    its bbox is the square they describe. `keypoints` is the GT [K, 3] float32
    (x, y, v) where the loader has it (GT-box paths), else None (detector boxes).
    """

    image_id: int
    image_path: Path
    bbox: tuple[float, float, float, float]
    bbox_score: float
    #: GT paths: restarts at 0 in each image; detector path and Horse-10: global running id (PROTOCOLS.md §3, §5).
    bbox_id: int
    image_size: tuple[int, int] | None = None  # (H, W) from the annotation file, when it says
    keypoints: np.ndarray | None = None  # [K, 3] float32
    annotation_id: int | None = None
    #: The crop's center (x, y) and scale (one side / 200, before padding) as the annotation gives them (MPII,
    #: PROTOCOLS.md §11), float32 values; None: both come from `bbox` (harness.topdown.boxes).
    center: tuple[float, float] | None = None
    scale: float | None = None


@dataclass
class LoadReport:
    """What a loader kept and what it skipped (with the reason), so a run can say why counts differ."""

    source: str
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    #: Kept on purpose although odd (e.g. detector boxes outside the image: the reference keeps them).
    flagged: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"{self.kept} kept"]
        parts += [f"{n} skipped ({why})" for why, n in sorted(self.skipped.items())]
        parts += [f"{n} kept but flagged ({why})" for why, n in sorted(self.flagged.items())]
        return f"{self.source}: " + ", ".join(parts)


@dataclass(frozen=True)
class InstanceSet:
    """The instances of one split, in the reference order, plus the load report."""

    instances: tuple[TopdownInstance, ...]
    report: LoadReport
    #: image_id -> file name relative to the image folder, in annotation-file order (every image, with or without
    #: instances).
    image_files: dict[int, str]

    def __len__(self) -> int:
        return len(self.instances)
