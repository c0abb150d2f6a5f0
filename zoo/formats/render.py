"""The one jinja setup of every generated markdown file (README tables, Hub cards, reports/): templates read from a
folder, a missing variable is an error (never an empty cell), blocks do not leave blank lines, no HTML escaping
(the output is markdown)."""

from __future__ import annotations

from pathlib import Path

import jinja2

#: zoo's own templates (README tables, Hub cards).
ZOO_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def markdown_env(folder: Path = ZOO_TEMPLATES) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # markdown, not HTML
    )
