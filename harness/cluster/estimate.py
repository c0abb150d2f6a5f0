"""`--dry-run`'s wall-time estimate of a row, from the committed benchmark figures (benchmarks/results/*.json, read
as data) for the job's device kind: top-down crops per second, bottom-up seconds per image (single- or
multi-scale), in the row's numeric mode. The figures are of HRNet-W32 (256x192 top-down, 512 bottom-up) at the
benchmark's thread count; other widths and sizes differ, and the estimate says which figure it used. Where no
figure exists for the device (no CUDA benchmark is committed yet), it says "no figure". The item counts and the
plan are those of harness.cluster.dryrun."""

from __future__ import annotations

import json
from functools import lru_cache

from zoo.settings import REPO

RESULTS = REPO / "benchmarks" / "results"


@lru_cache(maxsize=4)
def figures(device: str) -> tuple[str, dict] | None:
    """(environment name, cases) of the benchmark environment named `device` (a results file name without .json),
    else of the newest full (not -quick) benchmark whose name starts with `device-` (a device kind: cpu, cuda)."""
    found = []
    exact = RESULTS / f"{device}.json"
    for path in [exact] if exact.is_file() else sorted(RESULTS.glob(f"{device}-*.json")):
        if path.stem.endswith("-quick"):
            continue
        try:
            doc = json.loads(path.read_text())
            found.append((doc.get("generated_at", ""), path.stem, doc["cases"], doc.get("threads")))
        except (OSError, ValueError, KeyError):
            continue
    if not found:
        return None
    _, name, cases, threads = max(found)
    return f"{name}, {threads} thread(s)", cases


def _mode_figure(block: dict, mode: str, key: str) -> float | None:
    part = block if mode == "exact" else block.get(mode, {})
    value = part.get(key)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def per_item_seconds(spec, device: str) -> tuple[float, str, str] | None:
    """(seconds per item, item word, source) for this row's paradigm, mode and scales, or None."""
    found = figures(device)
    if found is None:
        return None
    env, cases = found
    mode = spec.settings.mode
    if spec.protocol.paradigm == "topdown":
        ours = cases.get("topdown_crops_per_s", {}).get("ours", {})
        rate = _mode_figure(ours, mode, "crops_per_s")
        return (1.0 / rate, "instances", f"W32 256x192 top-down, {env}") if rate else None
    scales = getattr(spec.protocol, "scales", (1,))
    which = "multi" if len(tuple(scales)) > 1 else "single"
    ours = cases.get("bottomup_seconds_per_image", {}).get("ours", {}).get(which, {})
    seconds = _mode_figure(ours, mode, "seconds")
    return (seconds, "images", f"W32 512 bottom-up {which}-scale, {env}") if seconds else None


def available() -> list[str]:
    """The benchmark environments with committed figures (what --estimate-device can name)."""
    return sorted(p.stem for p in RESULTS.glob("*.json") if not p.stem.endswith("-quick"))


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
