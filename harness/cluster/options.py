"""The launcher options of `reproduce` (--launcher local|slurm and the Slurm resources), checked before anything
runs, and what they become for submitit."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from harness.errors import HarnessError

LAUNCHERS = ("local", "slurm")
DEFAULT_CPUS = 2
DEFAULT_TIME_MIN = 60
#: The Slurm-only options and their flags, for the message when one is given to the local launcher.
SLURM_ONLY = {
    "partition": "--partition",
    "gpus_per_job": "--gpus-per-job",
    "cpus_per_job": "--cpus-per-job",
    "tasks_per_job": "--tasks-per-job",
    "time": "--time",
    "jobs_per_row": "--jobs-per-row",
    "max_running": "--max-running",
    "estimate_device": "--estimate-device",
    "slurm_args": "--slurm-arg",
    "no_wait": "--no-wait",
}
_SLURM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Resources:
    """What every job of a submission asks for. cpus_per_task is each task's torch thread count."""

    partition: str | None = None
    gpus_per_job: int = 0
    tasks_per_job: int = 1
    cpus_per_task: int = DEFAULT_CPUS
    time_min: int = DEFAULT_TIME_MIN
    slurm_args: dict[str, str | bool] = field(default_factory=dict)
    #: Jobs each row is split into at most (by its chunk plan; a row with fewer chunks gets one job per chunk).
    jobs_per_row: int = 1
    #: At most this many jobs of the array run at once (Slurm's array throttle %N); None: the cluster decides.
    max_running: int | None = None

    @property
    def device(self) -> str:
        return "cuda" if self.gpus_per_job else "cpu"

    def parameters(self) -> dict:
        """submitit SlurmExecutor parameters (sbatch flags through submitit's own names)."""
        params: dict = {
            "job_name": "hrnet-zoo",
            "time": self.time_min,
            "ntasks_per_node": self.tasks_per_job,
            "cpus_per_task": self.cpus_per_task,
            # submitit's timeout/preemption signal: 90 s before the end, or a quarter of a short limit.
            "signal_delay_s": min(90, self.time_min * 15),
        }
        if self.partition:
            params["partition"] = self.partition
        if self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        if self.max_running:
            params["array_parallelism"] = self.max_running
        if self.slurm_args:
            params["additional_parameters"] = dict(self.slurm_args)
        return params

    def record(self) -> dict:
        return {
            "partition": self.partition,
            "gpus_per_job": self.gpus_per_job,
            "tasks_per_job": self.tasks_per_job,
            "cpus_per_task": self.cpus_per_task,
            "time_min": self.time_min,
            "slurm_args": dict(self.slurm_args),
            "jobs_per_row": self.jobs_per_row,
            "max_running": self.max_running,
        }

    def describe(self) -> str:
        where = f"partition {self.partition}" if self.partition else "the default partition"
        gpus = f"{self.gpus_per_job} GPU(s), " if self.gpus_per_job else "no GPU, "
        extra = "".join(f", --{k}" + (f"={v}" if v is not True else "") for k, v in self.slurm_args.items())
        return (
            f"{where}, {gpus}{self.tasks_per_job} task(s) x {self.cpus_per_task} CPU(s) (= torch threads), "
            f"{self.time_min} min{extra}"
            + (f"; each row split into up to {self.jobs_per_row} jobs by its chunks" if self.jobs_per_row > 1 else "")
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("launcher (README: On a Slurm cluster)")
    g.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="local (default: the rows one after another in this process) or slurm (every row a job of one Slurm "
        "job array, submitted with submitit; needs the cluster extra)",
    )
    g.add_argument("--partition", default=None, metavar="NAME", help="Slurm partition (default: the cluster's)")
    g.add_argument(
        "--gpus-per-job",
        type=int,
        default=None,
        metavar="N",
        help="GPUs of each job (default 0: the CPU); N > 1 runs N tasks, one per GPU, rank 0 writing",
    )
    g.add_argument(
        "--cpus-per-job",
        type=int,
        default=None,
        metavar="N",
        help=f"CPUs of each task of a job, which is also its torch thread count (default {DEFAULT_CPUS}; recorded)",
    )
    g.add_argument(
        "--tasks-per-job",
        type=int,
        default=None,
        metavar="N",
        help="processes per job sharing a row's chunks over torch.distributed (gloo on the CPU; default: one per "
        "GPU, else 1)",
    )
    g.add_argument(
        "--time",
        type=int,
        default=None,
        metavar="MINUTES",
        help=f"time limit of each job (default {DEFAULT_TIME_MIN}); a job that reaches it is requeued and resumes "
        "from its chunks",
    )
    g.add_argument(
        "--jobs-per-row",
        type=int,
        default=None,
        metavar="N",
        help="split each row into up to N jobs, each computing a contiguous range of the row's chunks (see "
        "--chunk-size); the job that finds every chunk on disk gathers them into the row's one result (default 1)",
    )
    g.add_argument(
        "--max-running",
        type=int,
        default=None,
        metavar="N",
        help="at most N jobs of the array run at once (e.g. the GPUs you may use); --dry-run then estimates the "
        "wall time of the whole submission on N slots",
    )
    g.add_argument(
        "--estimate-device",
        default=None,
        metavar="NAME",
        help="--dry-run: estimate wall times from the committed benchmark figures of this environment (a file name "
        "in benchmarks/results/ without .json, or its prefix such as cpu or cuda; default: cuda with --gpus-per-job, "
        "else cpu)",
    )
    g.add_argument(
        "--slurm-arg",
        dest="slurm_args",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="any other sbatch option, passed through (repeatable), e.g. --slurm-arg account=pose --slurm-arg "
        "exclusive",
    )
    g.add_argument("--no-wait", action="store_true", default=None, help="submit and return (re-attach: jobs wait)")
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (jobs, rows, resources, estimated wall time per row) and submit nothing",
    )


def resources_from_args(args: argparse.Namespace) -> Resources | None:
    """The Resources of a Slurm submission (None for the local launcher), or a HarnessError naming the bad option."""
    if args.launcher != "slurm":
        given = [flag for name, flag in SLURM_ONLY.items() if getattr(args, name, None) not in (None, False)]
        if given or args.dry_run:
            flags = ", ".join(given + (["--dry-run"] if args.dry_run else []))
            raise HarnessError(f"{flags} only appl{'ies' if len(given) < 2 else 'y'} to --launcher slurm")
        return None
    for flag, value, least in (
        ("--gpus-per-job", args.gpus_per_job, 0),
        ("--cpus-per-job", args.cpus_per_job, 1),
        ("--tasks-per-job", args.tasks_per_job, 1),
        ("--time", args.time, 1),
        ("--jobs-per-row", args.jobs_per_row, 1),
        ("--max-running", args.max_running, 1),
    ):
        if value is not None and value < least:
            raise HarnessError(f"{flag} must be at least {least}, got {value}")
    if args.estimate_device is not None and not args.dry_run:
        raise HarnessError("--estimate-device only applies to --dry-run (the plan's wall-time estimates)")
    gpus = args.gpus_per_job or 0
    tasks = args.tasks_per_job or max(1, gpus)
    if gpus > 1 and tasks != gpus:
        raise HarnessError(
            f"--gpus-per-job {gpus} runs one task per GPU; --tasks-per-job {tasks} does not match (leave it out)"
        )
    if args.device not in (None, "auto") and (args.device == "cpu") != (gpus == 0):
        raise HarnessError(
            f"--device {args.device} with --gpus-per-job {gpus}: a Slurm job's device follows its GPUs; leave "
            "--device out"
        )
    return Resources(
        partition=args.partition,
        gpus_per_job=gpus,
        tasks_per_job=tasks,
        cpus_per_task=args.cpus_per_job or DEFAULT_CPUS,
        time_min=args.time or DEFAULT_TIME_MIN,
        slurm_args=parse_slurm_args(args.slurm_args or []),
        jobs_per_row=args.jobs_per_row or 1,
        max_running=args.max_running,
    )


def parse_slurm_args(items: list[str]) -> dict[str, str | bool]:
    """`KEY=VALUE` (or a bare `KEY` for a flag such as exclusive) into sbatch's long options."""
    out: dict[str, str | bool] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not _SLURM_KEY.match(key):
            raise HarnessError(
                f"--slurm-arg {item!r}: expected KEY=VALUE with an sbatch long option as KEY (e.g. account=pose)"
            )
        out[key.replace("_", "-")] = value if sep else True
    return out
