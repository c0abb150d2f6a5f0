"""The checkpoint package imports without torch where it can (issue 14: `--help`, `fetch` and the store never need
it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_store_and_fetch_import_without_torch() -> None:
    code = (
        "import sys\n"
        "import harness.checkpoints, harness.checkpoints.store, harness.checkpoints.formats\n"
        "import harness.commands.fetch, harness.commands.inspect, harness.commands.convert\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
