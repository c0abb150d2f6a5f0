"""`python -m harness jobs status|wait|cancel [RUNS_DIR]`: re-attach to the Slurm jobs of `reproduce --launcher slurm`.

status: a line per row of the runs folder's job manifest (state, job, node, elapsed, chunks done), without waiting.
wait: wait for them with the live table, then gather, exactly as the submitting command would have: the complete
and verified results go into the history once (one writer, under the manifest's lock), the reports are rendered,
the verdicts printed; exit 0/1 as `reproduce`, 3 when a job did not run. cancel: scancel every job still queued or
running (then the same `reproduce` command resumes them from their chunks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zoo import settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "jobs",
        help="status, wait for (and gather) or cancel the Slurm jobs of a runs folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["status", "wait", "cancel"])
    p.add_argument(
        "runs", nargs="?", type=Path, default=None, metavar="RUNS_DIR", help=f"default: ${settings.RUNS} or ./runs"
    )
    p.add_argument("--no-report", action="store_true", help="wait: do not re-render reports/ and the README")
    p.add_argument("--no-progress", action="store_true", help="wait: no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.cluster import manifest, states, submit, wait
    from harness.errors import HarnessError

    runs_dir = Path(args.runs or settings.runs_dir()).absolute()
    known = manifest.load(runs_dir)
    if not known:
        raise HarnessError(
            f"no Slurm jobs recorded in {runs_dir} ({manifest.path(runs_dir)} does not exist); pass the --runs "
            "folder of `reproduce --launcher slurm`"
        )
    if args.action == "wait":
        from harness.commands.reproduce import gather

        return gather(runs_dir, report=not args.no_report, progress=not args.no_progress)
    rows = list(known.values())
    found = wait.poll(runs_dir, rows)
    if args.action == "cancel":
        active = [j for r in rows if r.key in found and not found[r.key].final for j in r.job_ids()]
        submit.cancel(active)
        print(f"cancelled {len(active)} job(s): {' '.join(active) or '-'}", file=sys.stderr)
        return 0
    for row in rows:
        if row.key in found:
            print(wait.line(runs_dir, row, found[row.key]).rstrip())
            state = found[row.key]
            if state.final and not state.done:
                log = states.log_paths(manifest.jobs_dir(runs_dir) / "logs" / "%j", state.job_id)[1]
                print(f"{'':>14}{state.why()}; log: {log}")
        else:
            print(f"  {'COMPLETE':<11} {row.row_id} ({row.protocol})  (before submission)")
    return 0
