"""Measure how far the tuned and fast numeric modes move the metrics of the trained demo model, and write it down.

    python -m benchmarks.drift [--device cpu|cuda] [--val 80,600] [--check]

Evaluates the shipped demo checkpoint (demo/checkpoints, a trained W8 HRNet) on the deterministic demo val split
(harness/demo/generate.py; 80 images is the split `nox -s reproduce-demo` runs, 600 a larger draw of the same
generator) in every numeric mode (exact, tuned, fast with bf16 and with fp16) and writes harness/measured_drift.json:
per mode, AP/AR and their drift against exact, plus how many keypoints moved. That file is generated, never hand-edited;
every non-exact result.json quotes its rows (harness.runtime.measured_drift), so a reader of a fast-mode result sees
what the mode is known to cost. --check only verifies that the file parses and matches its format.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from harness.runtime import DRIFT_FILE

#: (mode, autocast dtype) pairs measured, exact first (the baseline of the others).
MODES = (("exact", None), ("tuned", None), ("fast", "bfloat16"), ("fast", "float16"))
FORMAT = 1


def _evaluate(out: Path, ann: Path, img_dir: Path, device: str, mode: str, dtype: str | None) -> dict:
    from harness.cli import main
    from harness.demo.document import ENTRY_ID

    argv = ["evaluate", ENTRY_ID, "--ann-file", str(ann), "--img-dir", str(img_dir), "--offline", "--out", str(out)]
    argv += ["--device", device, "--no-progress", "--scoring", "fast", "--mode", mode]
    argv += ["--amp-dtype", dtype] if dtype else []
    if main(argv) != 0:
        raise SystemExit(f"evaluation failed: {' '.join(argv)}")
    preds = sorted(json.loads((out / "predictions.json").read_text()), key=lambda r: (r["image_id"], r["bbox_id"]))
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    kp = np.array([r["keypoints"] for r in preds], dtype=np.float64).reshape(len(preds), -1, 3)
    return {"metrics": metrics, "keypoints": kp}  # speed is the benchmarks' business, not this file's


def measure(device: str, sizes: list[int], workdir: Path) -> list[dict]:
    from harness.demo import generate

    rows = []
    for size in sizes:
        root = workdir / f"val{size}"
        generate.generate(root, splits={"train": 0, "val": size})
        ann, img_dir = root / "annotations" / "val.json", root / "images" / "val"
        runs = {}
        for mode, dtype in MODES:
            runs[(mode, dtype)] = run = _evaluate(workdir / f"{size}-{mode}-{dtype}", ann, img_dir, device, mode, dtype)
            exact = runs[("exact", None)]
            moved = np.any(run["keypoints"][..., :2] != exact["keypoints"][..., :2], axis=-1)
            scores = np.abs(run["keypoints"][..., 2] - exact["keypoints"][..., 2]) / np.maximum(
                np.abs(exact["keypoints"][..., 2]), 1e-6
            )
            rows.append({
                "mode": mode, "amp_dtype": dtype, "device": device, "val_images": size,
                "instances": int(len(run["keypoints"])), "AP": run["metrics"]["AP"], "AR": run["metrics"]["AR"],
                "AP_drift": run["metrics"]["AP"] - exact["metrics"]["AP"],
                "AR_drift": run["metrics"]["AR"] - exact["metrics"]["AR"],
                "keypoints_moved_share": float(moved.mean()), "keypoint_score_max_rel_change": float(scores.max()),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


def write(device: str, rows: list[dict]) -> None:
    """Replace this device's rows of DRIFT_FILE (other devices' measurements are kept)."""
    data = json.loads(DRIFT_FILE.read_text()) if DRIFT_FILE.is_file() else {"format": FORMAT, "measurements": {}}
    data["generated_by"] = "python -m benchmarks.drift (do not edit)"
    data["measurements"][device] = {
        "date": time.strftime("%Y-%m-%d"),
        "torch": str(torch.__version__),
        "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "model": "hrnet_w8_demo_128x96 (demo/checkpoints), demo val split (harness/demo/generate.py)",
        "rows": rows,
    }
    DRIFT_FILE.write_text(json.dumps(data, indent=1) + "\n")


def check() -> int:
    data = json.loads(DRIFT_FILE.read_text())
    ok = data.get("format") == FORMAT and all(
        {"mode", "amp_dtype", "AP_drift", "AR_drift", "val_images"} <= set(row)
        for m in data["measurements"].values()
        for row in m["rows"]
    )
    print(f"{DRIFT_FILE}: {'ok' if ok else 'malformed: re-run python -m benchmarks.drift'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--val", default="80,600", help="demo val split sizes (default 80,600)")
    ap.add_argument("--check", action="store_true", help="only check that the file is well formed")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    sizes = [int(s) for s in args.val.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="hrnet-drift-") as tmp:
        rows = measure(args.device, sizes, Path(tmp))
    write(args.device, rows)
    print(f"wrote {DRIFT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
