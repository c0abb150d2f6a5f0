"""The numeric modes of a run (torch-free, so the CLI can list them without importing torch).

exact (default), tuned, fast: what each one does and what it is proven against is in harness/runtime.py and
docs/PERFORMANCE.md.
"""

from __future__ import annotations

from typing import get_args

from zoo.registry.schema import NumericMode as Mode

MODES: tuple[str, ...] = get_args(Mode)
#: Autocast dtypes of the fast mode (`--amp-dtype`).
AMP_DTYPES: tuple[str, ...] = ("bfloat16", "float16")
