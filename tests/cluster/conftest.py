"""Fixtures of the Slurm tests: a private one-node cluster (tests/cluster/slurm_local.py) for the session, a test
registry with two rows on the demo's checkpoint and data (the real rows need checkpoints that cannot be fetched
here), the demo data for both, and the local launcher's files at one torch thread to compare the jobs' with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cluster.slurm_local import LocalSlurm, SlurmUnavailableError, unavailable_reason
from zoo import settings

ENTRY = "hrnet_w8_demo_128x96"
ENTRY_B = f"{ENTRY}_b"
ROW_A, ROW_B = f"{ENTRY}/gt-bbox", f"{ENTRY_B}/gt-bbox"
#: 141 instances in chunks of 48: three chunks per row.
CHUNK_SIZE = "48"
#: The demo's val split as documented (its numbers are measured on these 80 images).
VAL_IMAGES = 80


def _unavailable(reason: str):
    if settings.flag(settings.REQUIRE_SLURM):
        pytest.fail(f"{settings.REQUIRE_SLURM} is set but the private Slurm cannot start: {reason}")
    pytest.skip(f"no private Slurm here: {reason}")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A private one-node Slurm, the only cluster the tests submit to (SLURM_CONF names its config)."""
    reason = unavailable_reason()
    if reason:
        _unavailable(reason)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmUnavailableError as exc:
        _unavailable(str(exc))
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    yield cluster
    if before is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = before
    cluster.stop()


def write_two_row_registry(repo_root: Path, folder: Path) -> Path:
    """zoo.yaml with a second dataset `demo_b` (the demo's files under another folder) and a second entry on it with
    the demo's checkpoint and documented numbers: two rows of one job array, each with its own data."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("keypoints.yaml", "papers.bib"):
        shutil.copy(repo_root / "zoo" / name, folder / name)
    text = (repo_root / "zoo.yaml").read_text()
    dataset = text[text.index("  - key: demo\n") : text.index("img_dir: demo/images/val/\n") + 26]
    copy = dataset.replace("key: demo", "key: demo_b").replace("ann_file: demo/", "ann_file: demo_b/")
    text = text.replace(dataset, dataset + copy.replace("img_dir: demo/", "img_dir: demo_b/"))
    entry = text[text.index(f"  - id: {ENTRY}\n") : text.index("  # <<< demo entry")]
    copy = entry.replace(f"id: {ENTRY}", f"id: {ENTRY_B}").replace("dataset: demo", "dataset: demo_b")
    text = text.replace(entry, entry + copy.replace(f"{ENTRY}-", f"{ENTRY_B}-").replace(f"{ENTRY}_2", f"{ENTRY_B}_2"))
    # file: URLs are relative to the registry's folder: the shipped checkpoint and log, and their copies named for
    # the second entry (a checkpoint's file name is its entry id, hash prefix and date).
    shipped = folder / "demo" / "checkpoints"
    shipped.mkdir(parents=True, exist_ok=True)
    for path in (repo_root / "demo" / "checkpoints").iterdir():
        shutil.copy(path, shipped / path.name)
        shutil.copy(path, shipped / path.name.replace(ENTRY, ENTRY_B))
    (folder / "zoo.yaml").write_text(text)
    return folder / "zoo.yaml"


@pytest.fixture(scope="session")
def two_row_registry(repo_root, tmp_path_factory) -> Path:
    return write_two_row_registry(repo_root, tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """A data root with the demo's val split under demo/ and the same files under demo_b/."""
    from harness.demo import generate

    root = tmp_path_factory.mktemp("data")
    generate.generate(root / "demo", splits={"train": 0, "val": VAL_IMAGES})
    shutil.copytree(root / "demo", root / "demo_b")
    return root


def reproduce_args(data_root: Path, *extra: str) -> list[str]:
    return [
        "reproduce", "--dataset", "all", "--rows", f"{ENTRY}*", "--data-root", str(data_root), "--offline",
        "--chunk-size", CHUNK_SIZE, "--no-progress", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def local_files(two_row_registry, demo_data, tmp_path_factory, repo_root) -> dict[str, dict[str, bytes]]:
    """{row: {predictions.json, metrics.json: bytes}} of the local launcher at one torch thread (what a job with
    --cpus-per-job 1 must give, byte for byte)."""
    import torch

    from harness.cli import main

    home = tmp_path_factory.mktemp("local")
    shutil.copy(repo_root / "README.md", home / "README.md")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HRNET_ZOO_REGISTRY", str(two_row_registry))
        mp.setenv("HRNET_ZOO_README", str(home / "README.md"))
        for var, name in [("CACHE", "cache"), ("RESULTS", "results"), ("RUNS", "runs"), ("REPORTS", "reports"),
                          ("EXPORTS", "exports")]:  # fmt: skip
            mp.setenv(f"HRNET_ZOO_{var}", str(home / name))
        torch.set_num_threads(1)
        try:
            assert main(reproduce_args(demo_data, "--device", "cpu", "--no-report")) == 0
        finally:
            torch.set_num_threads(threads)
    out = {}
    for row in (ROW_A, ROW_B):
        folder = home / "runs" / row.replace("/", "__") / "published"
        out[row] = {name: (folder / name).read_bytes() for name in ("predictions.json", "metrics.json")}
    return out
