"""`python -m zoo sync --check PAGE.md [...]`: drift between model-zoo pages and zoo.yaml, each difference named.

Differences (exit status 1): a metric whose printed text differs, a checkpoint or log URL (hash prefix included),
an input size, a page row zoo.yaml lacks, a zoo.yaml row sourced from the page (`source: {seed: PAGE}`) that the
page lacks, a bibtex key the entry does not cite or papers.bib lacks, a bibtex field that differs from papers.bib.
Guesses are not facts, so a protocol or split guess that disagrees with zoo.yaml is reported as a note and does not
fail the check (zoo.yaml, written from PROTOCOLS.md, is the authority on protocols).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zoo.formats.importer import ImpliedRow, imply, protocol_agreement, registry_row
from zoo.formats.pages import Page, bib_fields
from zoo.registry.schema import DocumentedRow, Protocol, Registry


@dataclass
class SyncReport:
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows_checked: int = 0


def _norm(text: str) -> str:
    return " ".join(text.split())


def check_pages(pages: Iterable[Page], registry: Registry, templates: Mapping[str, Protocol]) -> SyncReport:
    """Compare every page with zoo.yaml; the report lists each difference and each disagreeing guess."""
    report = SyncReport()
    for page in pages:
        implied = imply(page, registry, templates)
        report.rows_checked += len(implied)
        matched: set[str] = set()
        for item in implied:
            matched |= _check_row(item, registry, report)
        _check_extra_rows(page, registry, matched, report)
        _check_bibtex(page, implied, registry, report)
    return report


def _check_row(item: ImpliedRow, registry: Registry, report: SyncReport) -> set[str]:
    row, where = item.row, item.row.where
    entry = registry.entries.get(item.entry_id)
    if entry is None:
        report.differences.append(
            f"{where}: missing row: checkpoint {item.entry_id} ({row.ckpt_url}) has no entry in zoo.yaml"
        )
        return set()
    ck = entry.checkpoint
    # The loader already ties zoo.yaml's sha256_prefix to its URL's file name, so the URL comparison covers it; the
    # message names the prefixes when they are what changed.
    url_what = "checkpoint URL"
    if row.sha256_prefix != ck.sha256_prefix:
        url_what += f" (sha256 prefix: page {row.sha256_prefix}, zoo.yaml {ck.sha256_prefix})"
    for what, page_value, zoo_value in (
        (url_what, row.ckpt_url, ck.url),
        ("log URL", row.log_url or None, ck.log_url),
        ("input size (HxW)", "x".join(map(str, row.input_size)), "x".join(map(str, entry.architecture.input_size))),
    ):
        if page_value != zoo_value:
            report.differences.append(f"{where}: {entry.id} {what}: page {page_value}, zoo.yaml {zoo_value}")
    known = registry_row(registry, item)
    if known is None:
        names = ", ".join(r.name for r in entry.results)
        report.differences.append(
            f"{where}: missing row: {item.row_id} (name guessed: {item.name.reason}) is not in zoo.yaml; "
            f"{entry.id} has rows {names}"
        )
        return set()
    for metric, text in row.metrics.items():
        if metric not in known.metric_text:
            report.differences.append(f"{where}: {known.row_id} {metric}: page {text}, zoo.yaml has no {metric}")
        elif known.metric_text[metric] != text:
            report.differences.append(
                f"{where}: {known.row_id} {metric}: page {text}, zoo.yaml {known.metric_text[metric]}"
            )
    for metric in known.metric_text:
        if metric not in row.metrics:
            report.differences.append(
                f"{where}: {known.row_id} {metric}: zoo.yaml {known.metric_text[metric]}, "
                "the page prints no such column"
            )
    for what, guess, value in (("dataset", item.dataset, known.dataset), ("split", item.split, known.split)):
        if guess.value != value:
            report.notes.append(
                f"{where}: {known.row_id} {what} guessed {guess.value} ({guess.reason}), zoo.yaml {value}"
            )
    agreement = protocol_agreement(item, registry)
    if agreement:
        report.notes.append(f"{where}: {known.row_id} protocol guess {item.template.value}: {agreement}")
    return {known.row_id}


def cites(result: DocumentedRow, page: Page) -> bool:
    """Whether a zoo.yaml row names this page as its source. MMPose has pages of one name in several folders
    (hrnet_coco.md both in associative_embedding/coco and in topdown_heatmap/coco), so where the row's upstream URL
    ends in the same file name, its two folders above must be the page file's too."""
    if result.source != page.name:
        return False
    url = result.source_page.split("/")
    if not url or url[-1] != page.name or len(url) < 3:
        return True  # a seed copied under its own name (NNN_<hash>.txt): the name is the link
    return tuple(url[-3:-1]) == page.path.resolve().parts[-3:-1]


def _check_extra_rows(page: Page, registry: Registry, matched: set[str], report: SyncReport) -> None:
    for entry in registry.entries.values():
        for result in entry.results:
            if cites(result, page) and result.row_id not in matched:
                report.differences.append(
                    f"{page.name}: extra row: zoo.yaml's {result.row_id} cites this page as its source, "
                    "but the page has no such row"
                )


def _check_bibtex(page: Page, implied: list[ImpliedRow], registry: Registry, report: SyncReport) -> None:
    ids = sorted({i.entry_id for i in implied if i.entry_id in registry.entries})
    for bib in page.papers:
        where = f"{page.name}:{bib.line}"
        if bib.key not in registry.papers:
            report.differences.append(f"{where}: bibtex {bib.key}: not in papers.bib")
            continue
        ours = bib_fields(registry.papers[bib.key])
        for name in sorted(set(bib.fields) | set(ours)):
            a, b = bib.fields.get(name), ours.get(name)
            if a is None or b is None or _norm(a) != _norm(b):
                report.differences.append(
                    f"{where}: bibtex {bib.key}.{name}: page {a!r}, papers.bib {b!r}"
                    if a is not None and b is not None
                    else f"{where}: bibtex {bib.key}.{name}: only in {'the page' if b is None else 'papers.bib'}"
                )
        for entry_id in ids:
            if bib.key not in registry.entries[entry_id].papers:
                report.differences.append(f"{where}: bibtex {bib.key}: entry {entry_id} does not cite it (papers:)")
