"""python -m benchmarks [--quick] [--only NAME ...] [--env-name NAME] [--no-reference] [--repeats N] [--threads T]
                       [--out DIR]

Runs the registered cases (benchmarks/cases/), ours and the reference side by side, and writes
<out>/<environment>[-quick].json plus the markdown table rendered from it (benchmarks/report.py).
With --only, the named cases replace their rows in an existing result file of the same environment and mode.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import benchmarks.cases  # noqa: F401  (registers the cases)
from benchmarks import report
from benchmarks.suite import CASES, RESULTS_DIR, BenchContext, environment_name, run_cases
from harness.results import write_json_atomic


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny inputs and few repeats (seconds)")
    ap.add_argument("--only", action="append", choices=sorted(CASES), metavar="NAME", help="run only this case")
    ap.add_argument("--env-name", help="result file name (default: from the hardware and software)")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference (MMPose 0.29 oracle) side")
    ap.add_argument("--repeats", type=int, help="timing repeats, median reported (default 3 quick, 5 full)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of both sides in inference cases (1)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    if args.list:
        for case in CASES.values():
            print(f"{case.name} [{case.unit}]: {case.what}")
        return 0
    env = args.env_name or environment_name()
    stem = f"{env}-quick" if args.quick else env
    path = args.out / f"{stem}.json"
    previous = json.loads(path.read_text()) if args.only and path.is_file() else None
    with tempfile.TemporaryDirectory(prefix="hrnet-bench-") as tmp:
        ctx = BenchContext(quick=args.quick, repeats=args.repeats or (3 if args.quick else 5), workdir=Path(tmp),
                           reference=not args.no_reference, threads=args.threads)  # fmt: skip
        data = run_cases(args.only or list(CASES), ctx, env_name=env, previous=previous)
    write_json_atomic(path, data)
    md = report.write(path)
    print(md.read_text())
    return 1 if any("error" in c for c in data["cases"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
