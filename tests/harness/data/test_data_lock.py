"""The data lock as a careless or hostile user meets it (issue 22, items 3-6), through the real CLI: a bad archive
never poisons the lock (and one pinned by mistake is dropped with `data fetch DATASET --repin`), every image's bytes
are pinned and a routine check reads only changed files (`--full` re-reads all), a hand-edited lock is named field
by field, two fetches of one root at once, a read-only root and a dangling symlink as the root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import locks
from harness.cli import main
from harness.data import lock, sources
from tests.harness.checkpoints.test_read_only_cache import run_with_read_only
from tests.harness.data.minidata import tar_bytes

REPO = Path(__file__).resolve().parents[3]
ANN = "/openmmlab/datasets/atrw_annotations.tar"
AN_HOUR_AGO = time.time() - 3600


def _data(env, action: str, *extra: str) -> int:
    return main(["data", action, "atrw", "--data-root", str(env.root), "--no-progress", *extra])


def _age(root: Path) -> None:
    """Date every file an hour back, as data fetched earlier is (the stat cache trusts only files older than it)."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


def _annotations(env, **extra) -> bytes:
    gt = json.loads((env.mini.samples / "atrw/test_atrw.json").read_text())
    gt.update(extra)
    return tar_bytes({"annotations/keypoint_val.json": json.dumps(gt).encode()})


# -- trust on first use, done right -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["empty", "truncated", "wrong archive"])
def test_a_bad_archive_leaves_no_pin_and_the_right_one_is_then_accepted(data_env, bad, capsys):
    env = data_env
    good = env.mini.served[ANN]
    if bad == "empty":
        env.server.add(ANN, b"")
    elif bad == "truncated":  # cut short without Content-Length: looks complete to the client
        env.server.omit_length(ANN)
        env.server.truncate(ANN, after=len(good) // 3)
    else:  # a valid tar without the member the registry names (a bad mirror's archive)
        env.server.add(ANN, tar_bytes({"something/else.json": b"{}"}))
    assert _data(env, "fetch") == 1
    err = capsys.readouterr().err
    assert "was deleted and nothing was pinned" in err
    assert "atrw" not in lock.read_lock(env.root).datasets  # no pin from a failure
    assert not (env.root / "downloads/atrw/atrw_annotations.tar").exists()
    env.server.add(ANN, good)  # the right archive: accepted at once, no hand edit of the lock
    assert _data(env, "fetch") == 0, capsys.readouterr().err
    assert lock.dataset_lock(env.root, "atrw").archives["annotations"].size == len(good)


def test_an_archive_pinned_by_mistake_is_dropped_with_the_command_the_error_names(data_env, capsys):
    env = data_env
    assert _data(env, "fetch") == 0
    for folder in ("atrw/annotations", "downloads/atrw"):
        for path in (env.root / folder).iterdir():
            path.unlink()
        (env.root / folder).rmdir()
    newer = _annotations(env, info={"description": "the right release"})
    env.server.add(ANN, newer)
    assert _data(env, "fetch") == 1
    err = capsys.readouterr().err
    assert "pinned in the data lock" in err and "python -m harness data fetch atrw --repin" in err
    assert _data(env, "fetch", "--repin") == 0, capsys.readouterr().err
    entry = lock.dataset_lock(env.root, "atrw")
    assert entry.archives["annotations"].size == len(newer)
    assert _data(env, "check") == 0 and "matches the data lock" in capsys.readouterr().out


# -- content pins, the stat cache and --full ----------------------------------------------------------------


def _flip_keeping_size_and_mtime(path: Path) -> None:
    """Bit rot: one bit flipped in the middle of the compressed pixels (the image still decodes, to other
    pixels), same size, same mtime, same inode."""
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_routine_check_reads_only_changed_files_and_full_finds_bit_rot(data_env, capsys):
    env = data_env
    assert _data(env, "fetch") == 0
    _age(env.root)
    assert _data(env, "check") == 0  # hashes everything once more (the files were re-dated), fills the stat cache
    capsys.readouterr()
    assert _data(env, "check") == 0
    out = capsys.readouterr().out
    n = len(lock.dataset_lock(env.root, "atrw").files)
    assert f"matches the data lock; 0 of {n} files read" in out
    image = sorted((env.root / "atrw/images/val").iterdir())[1]
    _flip_keeping_size_and_mtime(image)
    assert _data(env, "check", "--full") == 1
    err = capsys.readouterr().err
    assert f"atrw/images/val/{image.name} changed since the lock was pinned" in err
    assert "python -m harness data check atrw --repin" in err


def test_an_image_rewritten_in_place_is_named_by_a_routine_check(data_env, capsys):
    env = data_env
    assert _data(env, "fetch") == 0
    _age(env.root)
    assert _data(env, "check") == 0
    image = sorted((env.root / "atrw/images/val").iterdir())[0]
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0x01
    image.write_bytes(bytes(data))  # same size, a new mtime
    capsys.readouterr()
    assert _data(env, "check") == 1
    captured = capsys.readouterr()
    assert f"atrw/images/val/{image.name} changed since the lock was pinned" in captured.err


# -- the lock file's schema ---------------------------------------------------------------------------------


def test_a_malformed_lock_names_the_file_the_field_and_the_command_that_rebuilds_it(data_env, capsys):
    env = data_env
    assert _data(env, "fetch") == 0
    path = lock.lock_path(env.root)
    raw = json.loads(path.read_text())
    rel = "atrw/annotations/keypoint_val.json"
    raw["datasets"]["atrw"]["files"][rel]["size"] = "12"  # a hand edit: a string where a number belongs
    path.write_text(json.dumps(raw))
    capsys.readouterr()
    for action in ("check", "fetch", "list"):
        rc = _data(env, action)
        err = capsys.readouterr().err
        assert rc in (1, 2), action
        assert str(path) in err and f'datasets.atrw.files["{rel}"].size should be an integer, got str' in err
        assert "python -m harness data check atrw --repin" in err and "Traceback" not in err
    assert _data(env, "check", "--repin") == 0
    assert lock.dataset_lock(env.root, "atrw").files[rel].size > 0


def test_a_lock_from_before_the_image_pins_still_reads_and_gains_them(data_env, capsys):
    """Version 1 (names and sizes of images only): its file pins still hold; the next check pins the images."""
    env = data_env
    assert _data(env, "fetch") == 0
    rel = "atrw/annotations/keypoint_val.json"
    pinned = lock.dataset_lock(env.root, "atrw").files[rel]
    v1 = {"version": 1, "datasets": {"atrw": {"archives": {}, "files": {rel: {"sha256": pinned.sha256, "size": 1}},
                                              "splits": {"val": {"count": 3, "list_sha256": "0" * 64}}}}}  # fmt: skip
    lock.lock_path(env.root).write_text(json.dumps(v1))
    capsys.readouterr()
    assert _data(env, "check") == 0 and "matches the data lock" in capsys.readouterr().out
    entry = lock.dataset_lock(env.root, "atrw")
    assert json.loads(lock.lock_path(env.root).read_text())["version"] == 2
    assert set(entry.splits) == {"val"} and any(f.startswith("atrw/images/val/") for f in entry.files)


# -- concurrency, read-only roots, a dangling symlink ---------------------------------------------------------


def _cli_env(env) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_PROXY", "http_proxy"))}
    return {**out, "HRNET_ZOO_REGISTRY": str(env.registry), "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1"}


@pytest.mark.slow
def test_two_fetches_of_one_root_at_once(data_env, tmp_path):
    """The second waits for the first, then finds the layout complete (before: `OSError: Directory not empty`)."""
    env = data_env
    env.root.mkdir()
    argv = [sys.executable, "-m", "harness", "data", "fetch", "atrw", "--data-root", str(env.root), "--no-progress"]
    logs = [tmp_path / f"fetch{i}.err" for i in (1, 2)]
    with locks.exclusive(env.root / sources.FLOCK, waiting="", unwritable=None):  # both must wait for it
        procs = [
            subprocess.Popen(argv, cwd=REPO, env=_cli_env(env), stdout=subprocess.DEVNULL, stderr=log.open("w"))
            for log in logs
        ]
        deadline = time.monotonic() + 120
        while not all("waiting for another" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.2)
    codes = [p.wait(timeout=180) for p in procs]
    errs = [log.read_text() for log in logs]
    assert codes == [0, 0], errs
    assert not any("Traceback" in e or "not empty" in e for e in errs)
    assert sum("laid out" in e for e in errs) == 1  # one laid it out; the other found it complete
    assert len(env.server.requests_for(ANN)) == 1


@pytest.mark.slow
def test_a_read_only_root_that_holds_the_data_is_checked_without_writing(data_env):
    env = data_env
    assert _data(env, "fetch") == 0
    lock.lock_path(env.root).unlink()  # nothing pinned yet: a check would want to write the lock
    for action in ("check", "fetch"):
        argv = [sys.executable, "-m", "harness", "data", action, "atrw", "--data-root", str(env.root)]
        proc = run_with_read_only(env.root, [*argv, "--no-progress"], _cli_env(env))
        assert proc.returncode == 0, proc.stderr
        assert "could not be updated" in proc.stderr and "Read-only file system" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert "ok: atrw" in proc.stdout and "(not pinned)" in proc.stdout
    assert not lock.lock_path(env.root).exists()


def test_a_dangling_symlink_as_the_data_root_is_named(data_env, capsys):
    env = data_env
    link = env.tmp / "data-link"
    link.symlink_to(env.tmp / "unmounted-disk")
    for action in ("fetch", "check"):
        assert main(["data", action, "atrw", "--data-root", str(link), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"symbolic link to {env.tmp / 'unmounted-disk'}, which does not exist" in err
        assert "File exists" not in err
