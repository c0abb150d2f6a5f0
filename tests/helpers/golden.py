"""Golden outputs with an explicit accept switch (DESIGN.md principle 12; detectron2's `verify_results` style).

A golden file holds what a pipeline produced once, reviewed and committed: predictions (keypoints rounded to
`XY_DECIMALS`, scores to `SCORE_DIGITS` significant digits) and metrics. A test recomputes them and compares with
per-quantity tolerances; a mismatch raises `GoldenMismatchError` (an AssertionError, so pytest shows it as a failure)
whose message is a readable diff: which golden, which image / instance / joint, expected vs got, metric deltas.

Accept switch: `HRNET_ZOO_ACCEPT_GOLDEN=1 pytest tests/golden` (or `--accept-golden`) writes the files; without it a
missing golden is a failure that says how to create it, never silently created. Accepting rewrites a file only when
it is missing or differs beyond tolerance, so re-accepting on another machine does not churn the committed files
with float noise.

torch-free: report goldens (markdown text) use the same switch through `check_text`.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import settings

ACCEPT_ENV = settings.ACCEPT_GOLDEN.name
GOLDEN_FORMAT = 1
#: Stored precision: keypoint x/y to 1e-3 px; scores (heatmap maxvals, person scores) to 6 significant digits
#: (random-weight maxvals reach 1e4, so an absolute precision would be meaningless there).
XY_DECIMALS = 3
SCORE_DIGITS = 6
METRIC_DECIMALS = 6
#: Lines of keypoint differences shown before "... and N more".
MAX_DIFF_LINES = 25


# A golden mismatch is a test's verdict, not an error of the package: an AssertionError, so that pytest shows it as a
# failed test with its diff and no CLI could ever catch it as a user error (hence not in harness/errors.py's tree).
class GoldenMismatchError(AssertionError):
    """Recomputed outputs differ from the committed golden beyond tolerance; the message is the diff."""


class GoldenMissingError(AssertionError):
    """No golden file yet; the message says how to create it."""


@dataclass(frozen=True)
class Tolerance:
    """xy_atol: image pixels. Keypoints are decoded on a quantised grid (argmax + quarter steps, PROTOCOLS.md §3,
    §4), so cross-machine noise only reaches x/y through the float32 inverse affine (< 1e-3 px); a change of
    protocol moves them by a heatmap pixel (>= 1 px). score: |got - exp| <= score_atol + score_rtol * |exp|.
    metric_atol: absolute, per metric (the registry's reproduction tolerance is 0.002; protocol errors move
    metrics by more, PROTOCOLS.md §8)."""

    xy_atol: float = 1e-2
    score_rtol: float = 1e-4
    score_atol: float = 1e-5
    metric_atol: float = 5e-4


def accept_requested(option: bool = False) -> bool:
    """True when the accept switch is on: the pytest option, or HRNET_ZOO_ACCEPT_GOLDEN=1/true/yes/on."""
    return option or settings.accept_golden()


# ---------------------------------------------------------------------------------------------------------------
# canonical form


def _sig(value: float | None, digits: int = SCORE_DIGITS) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def canonical_predictions(predictions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """COCO results -> [{image_id, score, keypoints: [[x, y, s], ...]}] rounded to the stored precision, in the
    pipeline's output order (the order is part of the behaviour: it decides score ties in COCOeval)."""
    out = []
    for p in predictions:
        flat = [float(v) for v in p["keypoints"]]
        kpts = [
            [round(flat[i], XY_DECIMALS), round(flat[i + 1], XY_DECIMALS), _sig(flat[i + 2])]
            for i in range(0, len(flat), 3)
        ]
        out.append({"image_id": int(p["image_id"]), "score": _sig(float(p["score"])), "keypoints": kpts})
    return out


def canonical_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    return {
        k: None if v is None or not math.isfinite(float(v)) else round(float(v), METRIC_DECIMALS)
        for k, v in sorted(metrics.items())
    }


def make_golden(
    *,
    case: str,
    about: str,
    predictions: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any],
    keypoint_names: Sequence[str],
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document written to / compared with a golden file."""
    return {
        "golden_format": GOLDEN_FORMAT,
        "case": case,
        "about": about,
        "info": dict(info or {}),
        "precision": {"xy_decimals": XY_DECIMALS, "score_significant_digits": SCORE_DIGITS},
        "keypoint_names": list(keypoint_names),
        "metrics": canonical_metrics(metrics),
        "predictions": canonical_predictions(predictions),
    }


# ---------------------------------------------------------------------------------------------------------------
# comparison and diff


def _close(exp: float | None, got: float | None, atol: float, rtol: float = 0.0) -> bool:
    if exp is None or got is None:
        return exp is got
    return abs(got - exp) <= atol + rtol * abs(exp)


def _fmt(v: float | None) -> str:
    return "None" if v is None else f"{v:.6g}"


def compare(expected: Mapping[str, Any], got: Mapping[str, Any], tol: Tolerance = Tolerance()) -> list[str]:
    """Human-readable differences between two golden documents (empty when they agree within `tol`)."""
    lines: list[str] = []
    for key in ("golden_format", "case", "info", "keypoint_names"):
        if expected.get(key) != got.get(key):
            lines.append(f"{key}: expected {expected.get(key)!r}, got {got.get(key)!r}")
    lines += _metric_diff(expected["metrics"], got["metrics"], tol)
    lines += _prediction_diff(expected["predictions"], got["predictions"], expected["keypoint_names"], tol)
    return lines


def _metric_diff(exp: Mapping[str, Any], got: Mapping[str, Any], tol: Tolerance) -> list[str]:
    out = []
    for name in sorted(set(exp) | set(got)):
        if name not in got or name not in exp:
            out.append(f"metric {name}: expected {_fmt(exp.get(name))}, got {_fmt(got.get(name))} (missing)")
        elif not _close(exp[name], got[name], tol.metric_atol):
            delta = "n/a" if exp[name] is None or got[name] is None else f"{got[name] - exp[name]:+.6f}"
            out.append(
                f"metric {name}: expected {_fmt(exp[name])}, got {_fmt(got[name])} "
                f"(delta {delta}, tolerance {tol.metric_atol:g})"
            )
    return out


def _by_image(preds: Sequence[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    out: dict[int, list[Mapping[str, Any]]] = {}
    for p in preds:
        out.setdefault(p["image_id"], []).append(p)
    return out


def _prediction_diff(exp: Sequence, got: Sequence, names: Sequence[str], tol: Tolerance) -> list[str]:
    """Per image, instances in output order; per instance, the joints that moved or changed score."""
    head, rows = [], []
    e_img, g_img = _by_image(exp), _by_image(got)
    moved, total, worst = 0, 0, 0.0
    for image_id in sorted(set(e_img) | set(g_img)):
        e_list, g_list = e_img.get(image_id, []), g_img.get(image_id, [])
        if len(e_list) != len(g_list):
            head.append(f"image {image_id}: expected {len(e_list)} instances, got {len(g_list)}")
        for i, (e, g) in enumerate(zip(e_list, g_list, strict=False)):
            where = f"image {image_id} instance {i}"
            if not _close(e["score"], g["score"], tol.score_atol, tol.score_rtol):
                rows.append(f"{where} score: expected {_fmt(e['score'])}, got {_fmt(g['score'])}")
            for k, (ek, gk) in enumerate(zip(e["keypoints"], g["keypoints"], strict=True)):
                total += 1
                name = names[k] if k < len(names) else f"#{k}"
                d = math.hypot(gk[0] - ek[0], gk[1] - ek[1])
                xy_bad = d > tol.xy_atol
                s_bad = not _close(ek[2], gk[2], tol.score_atol, tol.score_rtol)
                if xy_bad or s_bad:
                    moved += 1
                    worst = max(worst, d)
                    rows.append(
                        f"{where} joint {k} ({name}): expected ({ek[0]:.3f}, {ek[1]:.3f}, s={_fmt(ek[2])}), "
                        f"got ({gk[0]:.3f}, {gk[1]:.3f}, s={_fmt(gk[2])})" + (f", moved {d:.3f} px" if xy_bad else "")
                    )
    if moved:
        head.append(f"{moved} of {total} compared keypoints differ (largest move {worst:.3f} px)")
    if len(rows) > MAX_DIFF_LINES:
        rows = [*rows[:MAX_DIFF_LINES], f"... and {len(rows) - MAX_DIFF_LINES} more"]
    return head + rows


def format_mismatch(path: Path, lines: Sequence[str], tol: Tolerance) -> str:
    return (
        f"golden {path.name} ({path}) differs from the recomputed outputs "
        f"(tolerances: xy {tol.xy_atol:g} px, score rtol {tol.score_rtol:g}, metric atol {tol.metric_atol:g}):\n  "
        + "\n  ".join(lines)
        + f"\nIf the change is intended, accept it with {ACCEPT_ENV}=1 (or --accept-golden), review the diff of "
        "the golden file and commit it."
    )


# ---------------------------------------------------------------------------------------------------------------
# files and the accept switch


def _missing(path: Path, how: str) -> GoldenMissingError:
    return GoldenMissingError(
        f"golden file {path} does not exist. Create it with `{ACCEPT_ENV}=1 {how}` (or pass --accept-golden), "
        "review it and commit it; goldens are never created silently."
    )


def check(
    path: Path, got: Mapping[str, Any], *, accept: bool, tol: Tolerance = Tolerance(), how: str = "pytest tests/golden"
) -> str:
    """Compare `got` with the golden at `path`: 'match', or 'written' when accepting (only if missing or beyond
    tolerance). Raises GoldenMissingError / GoldenMismatchError otherwise."""
    path = Path(path)
    if not path.exists():
        if not accept:
            raise _missing(path, how)
        _write_json(path, got)
        return "written"
    expected = json.loads(path.read_text())
    lines = compare(expected, got, tol)
    if not lines:
        return "match"
    if accept:
        _write_json(path, got)
        return "written"
    raise GoldenMismatchError(format_mismatch(path, lines, tol))


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One instance per line keeps the committed diff of a re-accepted golden readable.
    head = json.dumps({k: v for k, v in doc.items() if k != "predictions"}, indent=1, allow_nan=False)
    rows = [json.dumps(p, separators=(",", ":"), allow_nan=False) for p in doc["predictions"]]
    body = "[\n  " + ",\n  ".join(rows) + "\n ]" if rows else "[]"
    text = head.removesuffix("\n}") + ',\n "predictions": ' + body + "\n}\n"
    path.write_text(text)


def check_text(path: Path, text: str, *, accept: bool, how: str = "pytest tests/harness/test_report_golden.py") -> str:
    """Exact comparison of a generated text (a report page) with its golden; a mismatch shows a unified diff."""
    path = Path(path)
    if not path.exists():
        if not accept:
            raise _missing(path, how)
    elif path.read_text() == text:
        return "match"
    elif not accept:
        diff = difflib.unified_diff(
            path.read_text().splitlines(), text.splitlines(), f"golden/{path.name}", "rendered", lineterm="", n=2
        )
        raise GoldenMismatchError(
            f"rendered page differs from golden {path}:\n" + "\n".join(diff) + f"\nIf intended: {ACCEPT_ENV}=1 {how}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return "written"
