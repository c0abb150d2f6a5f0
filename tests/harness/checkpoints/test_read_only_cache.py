"""A read-only shared cache (e.g. a lab's NFS folder) that holds a valid checkpoint but no sidecar (issue 13.7).

The real CLI runs in a subprocess against a cache it cannot write to: as an ordinary user the folder is made
read-only with chmod; as root (which chmod does not stop) it is a read-only bind mount in a private mount namespace.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEMO = "hrnet_w8_demo_128x96"
_RO_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def run_with_read_only(folder: Path, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `argv` while `folder` is read-only for it."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
        try:
            return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        finally:
            folder.chmod(mode)
    wrapper = ["unshare", "-m", "sh", "-c", _RO_MOUNT, "sh", str(folder)]
    probe = ["sh", "-c", f'! touch "{folder}/.probe" 2>/dev/null']
    if shutil.which("unshare") is None or subprocess.run(wrapper + probe, capture_output=True).returncode != 0:
        pytest.skip("running as root and no read-only bind mount is possible here (unshare -m / mount)")
    return subprocess.run(wrapper + argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def shared_cache(tmp_path: Path) -> tuple[Path, Path]:
    """A cache folder holding the demo entry's published file, copied by hand: no sidecar, no lock file."""
    import zoo
    from harness.checkpoints.store import repo_file

    checkpoint = zoo.load_registry().entry(DEMO).checkpoint
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    target = folder / checkpoint.filename
    shutil.copyfile(repo_file(checkpoint), target)
    return folder, target


@pytest.mark.slow
def test_valid_file_without_sidecar_is_usable_from_a_read_only_cache(shared_cache) -> None:
    folder, target = shared_cache
    env = {**os.environ, "HRNET_ZOO_CACHE": str(folder), "HRNET_ZOO_OFFLINE": "1"}
    proc = run_with_read_only(folder, [sys.executable, "-m", "harness", "fetch", DEMO, "--no-progress"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(target) and "Traceback" not in proc.stderr
    assert "could not write" in proc.stderr  # it says why the next look-up will hash again ...
    assert sorted(p.name for p in folder.iterdir()) == [target.name]  # ... and wrote nothing

    proc = run_with_read_only(folder, [sys.executable, "-m", "harness", "inspect", DEMO], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{target} (cache)" in proc.stdout and "strict load: ok" in proc.stdout
