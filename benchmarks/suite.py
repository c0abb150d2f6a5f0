"""The benchmark registry and runner: every case measures ours AND the reference, same machine, same run, same inputs.

A case is a function `(ctx: BenchContext) -> CaseResult` registered with `@register(name, unit=..., what=...)`:

    {"ours": {"seconds": median, ...}, "reference": {"seconds": median, ...} | None,
     "ratio": reference / ours (how many times faster ours is; None without a reference),
     "unit": "s", "notes": [...], "checks": {name: bool}}   # checks: identities proven in this run

Timings repeat `ctx.repeats` times and report the median (the CPU is shared; see `seconds_all`). Results go to
benchmarks/results/<environment>[-quick].json and the markdown table next to it is rendered from that file
(benchmarks/report.py; never hand-edited). To add `topdown_crops_per_s` or `bottomup_seconds_per_image`, write a
module under benchmarks/cases/ with one registered function and import it in benchmarks/cases/__init__.py.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results import git_state, now_utc, package_versions

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CaseResult = dict[str, Any]


@dataclass(frozen=True)
class BenchContext:
    quick: bool  # tiny inputs, few repeats (tests, smoke runs)
    repeats: int
    workdir: Path  # scratch space for inputs and the reference's files
    reference: bool  # also run the reference side (needs the oracle venv)
    seed: int = 0
    #: torch intra-op threads of BOTH sides in the inference cases (recorded). 1 by default: on a shared 2-core
    #: machine two threads per process thrash under load (measured 2x slower at load 9), and parity runs use 1.
    threads: int = 1


@dataclass(frozen=True)
class Case:
    name: str
    unit: str
    what: str
    fn: Callable[[BenchContext], CaseResult]


CASES: dict[str, Case] = {}


def register(name: str, *, unit: str, what: str) -> Callable[[Callable[[BenchContext], CaseResult]], Callable]:
    def deco(fn: Callable[[BenchContext], CaseResult]) -> Callable[[BenchContext], CaseResult]:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} is registered twice")
        CASES[name] = Case(name, unit, what, fn)
        return fn

    return deco


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """(median seconds, all seconds, last return value) of `repeats` calls."""
    seconds, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), seconds, value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """The vector instruction set torch's CPU kernels use here ("AVX2", "AVX512"; torch's own report): two hosts
    with the same model name can differ, and bf16 autocast is fast only where the host has native bf16 (AVX512)."""
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # no torch, or a torch without the query: the name says "unknown"
        return "unknown"


def environment_name() -> str:
    """cpu-<cores>core-<cpu model>-<capability>-torch<version> (timm's habit: results named by hardware and
    software). Files written before the capability was part of the name (cpu-2core-amd-epyc-torch2.15.0) keep theirs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch = package_versions().get("torch", "none").split("+")[0]
    return f"cpu-{cores}core-{_slug(cpu_model())}-{_slug(cpu_capability())}-torch{torch}"


def environment(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "cpu": cpu_model(),
        "cpu_capability": cpu_capability(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "load_average_at_start": load_average(),
    }


def run_cases(names: list[str], ctx: BenchContext, *, env_name: str, previous: dict | None = None) -> dict[str, Any]:
    """Run the named cases; a case that raises becomes a row with an `error` (timm's `_try_run`), not an abort.
    Each case records when, at which commit and under which load it ran: with --only, the other rows are the
    previous file's, measured another time."""
    cases = {name: _with_measured(c, previous or {}) for name, c in (previous or {}).get("cases", {}).items()}
    git = git_state()
    for name in names:
        case = CASES[name]
        measured = {"at": now_utc(), "git": git, "load_average_at_start": load_average()}
        t0 = time.perf_counter()
        try:
            result = case.fn(ctx)
        except Exception as exc:  # recorded, the other cases still run
            result = {"error": f"{type(exc).__name__}: {exc}"}
        cases[name] = {"unit": case.unit, "what": case.what, **result, "wall_s": round(time.perf_counter() - t0, 2),
                       "measured": measured}  # fmt: skip
    return {
        "environment": environment(env_name),
        "generated_at": now_utc(),
        "git": git,
        "quick": ctx.quick,
        "repeats": ctx.repeats,
        "threads": ctx.threads,
        "cases": cases,
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none): recorded beside every timing."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _with_measured(case: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """A case of an earlier file, given that file's run time, commit and load when it predates per-case records."""
    if "measured" in case:
        return case
    env = previous.get("environment") or {}
    at = {"at": previous.get("generated_at"), "git": previous.get("git") or {},
          "load_average_at_start": env.get("load_average_at_start")}  # fmt: skip
    return {**case, "measured": at}
