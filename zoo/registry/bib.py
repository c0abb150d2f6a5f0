"""papers.bib -> {bibtex key: entry source text}, with every block that does not parse reported by line."""

from __future__ import annotations

import logging

import bibtexparser

from zoo.registry.yamltree import Problems

#: Fields every cited entry must have (the README and `python -m zoo show` print them).
REQUIRED_FIELDS = ("title", "author", "year")


def parse_bibtex(text: str, problems: Problems) -> dict[str, str]:
    """Bibtex entries by key, each as its original text; failed blocks and duplicate keys go to `problems`.

    `problems.where` should name the file (e.g. "papers.bib: "); the path of a problem is the entry key.
    """
    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # bibtexparser logs each failure; we report them ourselves, with lines
    try:
        library = bibtexparser.parse_string(text)
    finally:
        logger.setLevel(level)
    for block in library.failed_blocks:
        key = getattr(block, "key", None) or "<block>"
        error = str(getattr(block, "error", "")).split(". Note:")[0]
        problems.add(
            key, block.start_line + 1, f"bibtex does not parse: {error}", "a well-formed @type{key, field={...}} entry"
        )
    papers: dict[str, str] = {}
    for entry in library.entries:
        missing = [f for f in REQUIRED_FIELDS if f not in entry.fields_dict]
        if missing:
            problems.add(
                entry.key, entry.start_line + 1, f"bibtex entry lacks {', '.join(missing)}", "title, author and year"
            )
        papers[entry.key] = entry.raw.strip()
    return papers
