"""`python -m harness doctor`: is this environment fit for a run of record? One screen, one line per fact.

Each line starts with its verdict: `ok`, `note` (a fact a result records and a reader should know), `warn` (can
change a number or stop a verb; the line says what to do) or `FAIL` (a blocker: a run would fail or give wrong
numbers). Exit status: 0 no blocker, 1 at least one. The torch-free lines come first and print at once; torch,
timm and CUDA follow (importing torch takes seconds). --json: one object at the end instead, {"checks": [{"status",
"name", "text"}], "blockers", "warnings", "ready"} (docs/DESIGN.md, "Machine-readable output").

The facts are the ones every result.json records (harness.results.package_versions, the RunSettings record of
harness/runtime.py) and the import and known-bad-version checks of harness/environment.py; nothing is listed twice.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import get_args

from harness.commands import add_data_root_argument, add_json_argument, print_json
from harness.environment import (
    import_coco_api,
    interpreter,
    known_bad,
    python_problem,
    version_of,
)
from harness.errors import InstallError
from zoo import settings
from zoo.dependencies import missing_message
from zoo.evaluators.coco_keypoints import CocoLibrary
from zoo.registry.schema import Registry

STATUS_WIDTH, NAME_WIDTH = 5, 13


class _Screen:
    """Prints each line as soon as it is known (or keeps it for the JSON document), and counts the blockers and
    warnings."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.blockers = 0
        self.warnings = 0
        self.quiet = quiet
        self.checks: list[dict[str, str]] = []

    def line(self, status: str, name: str, text: str) -> None:
        self.blockers += status == "FAIL"
        self.warnings += status == "warn"
        self.checks.append({"status": status, "name": name, "text": text})
        if not self.quiet:
            print(f"{status:<{STATUS_WIDTH}} {name:<{NAME_WIDTH}} {text}", flush=True)

    def guard(self, name: str, check: Callable[[], None]) -> None:
        """Run one check; a crash of the check itself is a FAIL line, never a traceback (a doctor that dies on the
        broken environment it was asked about would be useless)."""
        try:
            check()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.line("FAIL", name, f"the check itself failed: {type(exc).__name__}: {first}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check this environment for a run of record (exit 1 on a blocker)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_root_argument(p, what="data root to look at")
    add_json_argument(p)
    p.set_defaults(func=run, lists_settings=True)  # the unknown-variable warning is one of its lines


def run(args: argparse.Namespace) -> int:
    from harness.results import package_versions

    screen = _Screen(quiet=args.json)
    versions = package_versions()
    bad = {rule.package: (rule, v) for rule, v in reversed(known_bad(versions))}
    screen.guard("python", lambda: _python(screen))
    screen.guard("settings", lambda: _settings(screen))
    screen.guard("numpy", lambda: screen.line("ok", "numpy", versions.get("numpy", "not installed")))
    for library in get_args(CocoLibrary):
        screen.guard(library, lambda library=library: _coco_library(screen, library, bad.get(library)))
    screen.guard("opencv", lambda: _opencv(screen, bad))
    registry = _registry(screen)
    if registry is not None:
        screen.guard("checkpoints", lambda: _checkpoints(screen, registry))
        screen.guard("data", lambda: _data(screen, registry, args.data_root))
    screen.guard("torch", lambda: _torch(screen))
    screen.guard("timm", lambda: _timm(screen))
    screen.guard("run of record", lambda: _run_settings(screen))
    if args.json:
        doc = {"checks": screen.checks, "blockers": screen.blockers, "warnings": screen.warnings}
        print_json({**doc, "ready": not screen.blockers})
    else:
        verdict = f"{screen.blockers} blocker(s), {screen.warnings} warning(s)"
        print(f"\n{verdict}: " + ("fix the FAIL lines before a run of record." if screen.blockers else "ready."))
    return 1 if screen.blockers else 0


def _python(screen: _Screen) -> None:
    problem = python_problem()
    screen.line("FAIL" if problem else "ok", "python", problem or interpreter())


def _settings(screen: _Screen) -> None:
    """The HRNET_ZOO_* variables (zoo/settings.py): one that is no setting is ignored by every verb (each warns on
    stderr), so a typo (HRNET_ZOO_OFLINE=1) would run online. A malformed value is checked by the accessor the verbs
    call (the same rule, e.g. settings.data_mirrors for `data fetch`): a blocker when a verb of a run reads it (that
    verb would stop), a warning when only the test suite or the benchmarks do."""
    unknown = settings.unknown()
    malformed = settings.malformed_settings()
    for problem in unknown:
        screen.line("warn", "settings", problem)
    for setting, problem in malformed:
        blocks = bool({"zoo", "harness"} & set(setting.read_by))
        screen.line("FAIL" if blocks else "warn", "settings", problem)
    if not unknown and not malformed:
        given = [f"{s}={s.raw()}" for s in settings.SETTINGS if s.raw() is not None]
        screen.line("ok", "settings", "; ".join(given) if given else "no HRNET_ZOO_* variable set (all defaults)")


# -- the evaluator of record -------------------------------------------------------------------------------------

#: A known tiny case: two people, one predicted exactly (OKS 1), one far off. Every OKS threshold then sees one
#: true positive ranked first and one miss, so precision is 1 up to recall 0.5 and AP = 51/101 (101-point
#: interpolation, PROTOCOLS.md §5).
TINY_AP = 51 / 101


def _tiny_case() -> tuple[dict, list[dict]]:
    people = [[40.0, 40.0, 2, 80.0, 60.0, 2, 60.0, 100.0, 2], [200.0, 50.0, 2, 230.0, 90.0, 2, 210.0, 140.0, 2]]
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 3, "iscrowd": 0,
         "bbox": [kp[0] - 20, kp[1] - 20, 80.0, 120.0], "area": 9600.0}
        for i, kp in enumerate(people)
    ]  # fmt: skip
    gt = {
        "images": [{"id": 1, "width": 320, "height": 240, "file_name": "1.jpg"}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"], "skeleton": []}],
    }
    far = [people[1][0] + 90.0, people[1][1], 1.0, people[1][3] + 90.0, people[1][4], 1.0, 10.0, 10.0, 1.0]
    preds = [
        {"image_id": 1, "category_id": 1, "keypoints": [v if i % 3 != 2 else 1.0 for i, v in enumerate(people[0])],
         "score": 0.9},
        {"image_id": 1, "category_id": 1, "keypoints": far, "score": 0.8},
    ]  # fmt: skip
    return gt, preds


def _coco_library(screen: _Screen, library: str, bad: tuple | None) -> None:
    from harness.metrics.coco import evaluate_coco_keypoints

    version = version_of(library)
    if version is None:
        screen.line("FAIL", library, "not installed; it is an evaluator of record: pip install -e '.[harness]'")
        return
    try:
        import_coco_api(library)
    except InstallError as exc:
        screen.line("FAIL", library, str(exc))
        return
    if bad is not None:
        rule, _ = bad
        screen.line("FAIL", library, f"{version} is known bad: {rule.effect}. Fix: {rule.fix}")
        return
    gt, preds = _tiny_case()
    ap = evaluate_coco_keypoints(
        preds, gt, sigmas=(0.05, 0.05, 0.05), use_area=True, library=library, per_keypoint=False
    ).metrics["AP"]
    if abs(ap - TINY_AP) > 1e-12:
        screen.line("FAIL", library, f"{version} imports but computes AP {ap!r} on a known case whose AP is 51/101")
        return
    screen.line("ok", library, f"{version}: imports and computes a known tiny case (AP 51/101)")


def _opencv(screen: _Screen, bad: dict) -> None:
    installed = {name: v for name in ("opencv-python-headless", "opencv-python") if (v := version_of(name))}
    if not installed:
        screen.line("FAIL", "opencv", "not installed: pip install 'opencv-python-headless>=4.8,<5'")
        return
    import cv2

    for name in installed:
        if name in bad:
            rule, version = bad[name]
            screen.line("FAIL", "opencv", f"{name} {version} is known bad: {rule.effect}. Fix: {rule.fix}")
            return
    if len(installed) > 1:
        both = ", ".join(f"{k} {v}" for k, v in installed.items())
        screen.line("warn", "opencv", f"cv2 {cv2.__version__} from one of two packages ({both}); the last installed "
                    "wins: pip uninstall opencv-python")  # fmt: skip
        return
    ((name, version),) = installed.items()
    screen.line("ok", "opencv", f"cv2 {cv2.__version__} ({name} {version})")


# -- where checkpoints and data live -----------------------------------------------------------------------------


def _registry(screen: _Screen) -> Registry | None:
    from zoo.errors import ZooError

    try:
        from zoo.registry.load import load_registry

        return load_registry()
    except ZooError as exc:
        screen.line("FAIL", "registry", str(exc).splitlines()[0])
        return None
    except ImportError as exc:  # PyYAML (zoo.yaml) or bibtexparser missing: the package and its install command
        message = missing_message(exc)
        if message is None:
            raise
        screen.line("FAIL", "registry", message)
        return None


def _checkpoints(screen: _Screen, registry: Registry) -> None:
    from harness.checkpoints import store, torch_hub

    where = settings.cache_dir()
    existing = next((p for p in (where, *where.parents) if p.exists()), None)
    writable = existing is not None and os.access(existing, os.W_OK | os.X_OK)
    published = {e.checkpoint.filename: e.checkpoint for e in registry.entries.values()}
    # cached_path is the store's one definition of "verified" (a sidecar that vouches, else the file re-hashed).
    verified = sum(1 for ck in published.values() if store.expected_path(ck).exists() and store.cached_path(ck))
    state = ("" if where.exists() else "not created yet, ") + ("writable" if writable else "NOT writable")
    text = f"{where} ({state}): {verified} of {len(published)} published files cached and verified"
    # Found by name only (hashing them is fetch's work): fetch verifies each before it is used.
    in_hub = [ck for ck in published.values() if not store.expected_path(ck).exists() and torch_hub.candidate(ck)]
    if in_hub:
        text += f"; {len(in_hub)} more in torch.hub's {torch_hub.checkpoints_dir()}, reused by `fetch` once verified"
    if not writable:
        screen.line("warn", "checkpoints", f"{text}; set ${settings.CACHE} to a writable folder")
    else:
        screen.line("ok", "checkpoints", text)


def _data(screen: _Screen, registry: Registry, data_root: Path | None) -> None:
    from harness.data.layout import missing_paths

    root = (data_root or settings.data_root()).expanduser()
    complete, incomplete = [], []
    for key, dataset in registry.datasets.items():
        missing = [name for name, split in dataset.splits.items() if missing_paths(split, root)]
        if not missing:
            complete.append(key)
        else:
            incomplete.append(key if len(missing) == len(dataset.splits) else f"{key} ({', '.join(missing)})")
    source = "--data-root" if data_root else (f"${settings.DATA}" if settings.DATA.raw() else "default")
    text = f"{root} ({source}): complete: {', '.join(complete) or 'none'}"
    if incomplete:
        text += f"; incomplete: {', '.join(incomplete)} (evaluate names what is missing)"
    screen.line("ok" if complete else "note", "data", text)


# -- torch and the settings of a run of record -------------------------------------------------------------------


def _torch(screen: _Screen) -> None:
    version = version_of("torch")
    if version is None:
        screen.line("FAIL", "torch", "not installed: pip install -e '.[harness]'")
        return
    import torch

    if not hasattr(torch.serialization, "safe_globals"):  # harness/checkpoints/safe_load.py needs it (torch 2.5)
        screen.line("FAIL", "torch", f"{torch.__version__} cannot load checkpoints safely (no "
                    "torch.serialization.safe_globals): pip install 'torch>=2.5'")  # fmt: skip
        return
    screen.line("ok", "torch", f"{torch.__version__} (checkpoints load with weights_only=True and an allow-list, "
                "under either torch.load default)")  # fmt: skip
    if not torch.cuda.is_available():
        screen.line(
            "note", "cuda", f"no CUDA device visible (torch built for CUDA {torch.version.cuda}); runs use the CPU"
        )
        return
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    screen.line("ok", "cuda", f"CUDA {torch.version.cuda}, cuDNN {cudnn or 'not available'}")
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        screen.line("ok", f"cuda:{i}", f"{props.name}, {props.total_memory / 2**30:.1f} GiB")


def _timm(screen: _Screen) -> None:
    if version_of("timm") is None:
        screen.line("FAIL", "timm", "not installed: pip install -e '.[harness]'")
        return
    import timm

    screen.line("ok", "timm", timm.__version__)


def _run_settings(screen: _Screen) -> None:
    """The switches a default (exact-mode) run sets, read back the way result.json records them."""
    from harness import runtime

    settings = runtime.RunSettings(device=runtime.resolve_device(None))
    runtime.apply(settings)
    rec = settings.record()
    env = ", ".join(f"{v}={os.environ[v]}" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if v in os.environ)
    screen.line("note", "threads", f"torch uses {rec['torch_threads']} threads on {os.cpu_count()} CPUs"
                + (f" ({env})" if env else "") + "; fp32 results depend on the count: compare runs made at the same "
                "--threads (result.json records it)")  # fmt: skip
    on_off = {True: "on", False: "off"}
    screen.line("ok", "run of record", f"exact mode on {settings.device}: {rec['dtype']}, BN "
                f"{'folded' if rec['fold_batchnorm'] else 'separate'}, TF32 matmul {on_off[rec['tf32_matmul']]} / "
                f"cuDNN {on_off[rec['tf32_cudnn']]}, cuDNN autotuning {on_off[rec['cudnn_benchmark']]}, "
                f"deterministic cuDNN {on_off[rec['cudnn_deterministic']]}")  # fmt: skip
    fast = runtime.RunSettings(
        device=settings.device, mode="fast", autocast_dtype=runtime.default_amp_dtype(settings.device)
    )
    if (note := runtime.autocast_note(fast)) is not None:
        screen.line("note", "fast mode", note)
