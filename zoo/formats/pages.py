"""MMPose model-zoo pages (markdown) -> what they state: bibtex blocks with their role, and result-table rows.

A page is read with a real markdown parser (markdown-it-py, CommonMark + GFM tables) and a real bibtex parser
(bibtexparser), never with regexes over table text. This module only reads what the page prints: ids, metric text,
URLs, bibtex. What the page implies but does not state (dataset, split, row name, protocol) is inferred, and marked
as a guess, by zoo/formats/importer.py.

Page anatomy (the seed pages in tests/data/pages/seeds/ are exactly this format):
  <!-- [ALGORITHM] --> or <!-- [DATASET] --> (optionally <details><summary><a href=PAPER_URL>)
  ```bibtex @...{key, ...} ```
  a caption (paragraph or heading), e.g. "Results on COCO val2017 with multi-scale test. 3 default scales ([2, 1,
  0.5]) are used", then a table with Arch, Input Size, metric, ckpt and log columns (Horse-10 adds Set).
markdown-it-py is imported inside `parse_page`: `zoo` itself imports without it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import bibtexparser

from zoo.errors import PageError
from zoo.evaluators import PAGE_COLUMNS
from zoo.registry.checkpoint_reader import CHECKPOINT_NAME

#: Roles MMPose marks bibtex blocks with (an HTML comment before the block).
ROLES = ("ALGORITHM", "BACKBONE", "DATASET")
#: Table columns that are not metrics; every other column must be one the evaluator kinds declare
#: (zoo.evaluators.PAGE_COLUMNS), or the table is skipped and named (Page.skipped).
KNOWN_COLUMNS = ("Arch", "Input Size", "ckpt", "log", "Set")
_ROLE = re.compile(r"<!--\s*\[(?P<role>[A-Z]+)\]\s*-->")
_SIZE = re.compile(r"^(?P<h>\d+)x(?P<w>\d+)$")
#: A metric cell as the pages print them: digits with an optional fraction ("0.870", "73.2"), no sign, exponent or
#: leading zero (YAML 1.1 reads "010" as octal 8). Anything else is refused: it is copied into YAML as printed.
METRIC_TEXT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


@dataclass(frozen=True)
class PageBib:
    """One bibtex block of a page."""

    key: str
    role: str  # ALGORITHM, BACKBONE or DATASET ("" when the page does not say)
    entry_type: str  # inproceedings, article, ...
    fields: dict[str, str]
    raw: str
    line: int  # 1-based line of the fence
    url: str = ""  # the paper link of the <summary> above the block, when the page has one


@dataclass(frozen=True)
class PageRow:
    """One data row of a results table, exactly as printed."""

    page: str  # file name of the page
    line: int  # 1-based line of the row
    caption: str  # the paragraph or heading just above the table, markdown unescaped
    cells: dict[str, str]  # column header (sup tags dropped: AP<sup>50</sup> -> AP50) -> cell text
    metrics: dict[str, str]  # metric name -> text as printed ("0.870" stays "0.870")
    ckpt_url: str
    log_url: str
    config_link: str  # the Arch cell's link target (an upstream config path)
    input_size: tuple[int, int]  # (H, W): the pages print HxW ("256x192"), like zoo.yaml

    @property
    def ckpt_name(self) -> re.Match:
        match = CHECKPOINT_NAME.match(self.ckpt_url.rsplit("/", 1)[-1])
        if match is None:  # parse_page already refused such a row; kept for type checkers
            raise PageError(f"{self.page}:{self.line}: checkpoint name {self.ckpt_url!r} is not name-hash_date.pth")
        return match

    @property
    def entry_id(self) -> str:
        """The registry id: the checkpoint file name without hash and date (PROTOCOLS.md §6)."""
        return self.ckpt_name["stem"]

    @property
    def sha256_prefix(self) -> str:
        return self.ckpt_name["hash"]

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class SkippedTable:
    """A results table the registry cannot read: a column no evaluator kind declares (a hand page's `AUC`, ...)."""

    line: int
    caption: str
    columns: tuple[str, ...]  # the columns no kind declares

    def describe(self) -> str:
        return (
            f"table at line {self.line} ({self.caption!r}) skipped: no evaluator kind declares column(s) "
            f"{list(self.columns)} (zoo/evaluators/; known metric columns: {', '.join(PAGE_COLUMNS)})"
        )


@dataclass(frozen=True)
class Page:
    path: Path
    papers: tuple[PageBib, ...]
    rows: tuple[PageRow, ...]
    #: Tables left out, each named with why (the page's other tables are still read).
    skipped: tuple[SkippedTable, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name


def read_page(path: str | Path) -> Page:
    """Read and parse one model-zoo page; an unreadable file or a malformed table raises PageError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PageError(f"{path}: cannot read ({exc}); expected a model-zoo markdown page") from exc
    return parse_page(text, name=path.name, path=path)


def parse_page(text: str, *, name: str = "<page>", path: Path | None = None) -> Page:
    """A page's bibtex blocks and result rows. Raises PageError naming the line of the first malformed row."""
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:
        raise PageError(
            "reading model-zoo pages needs markdown-it-py; install it with `pip install 'hrnet-zoo[zoo]'`"
        ) from exc
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    papers: list[PageBib] = []
    rows: list[PageRow] = []
    skipped: list[SkippedTable] = []
    role, paper_url, caption = "", "", ""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "html_block":
            match = _ROLE.search(tok.content)
            if match:
                role, paper_url = match["role"], ""
            paper_url = _first_href(tok.content) or paper_url
        elif tok.type == "fence" and tok.info.strip().lower() == "bibtex":
            papers += _bibtex(tok.content, name=name, line=tok.map[0] + 1, role=role, url=paper_url)
            role, paper_url = "", ""
        elif tok.type == "inline" and tokens[i - 1].type in ("paragraph_open", "heading_open"):
            caption = _plain(tok)
        elif tok.type == "table_open":
            end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
            table_rows, unknown = _table(tokens[i:end], caption=caption, page=name)
            rows += table_rows
            if unknown:
                skipped.append(SkippedTable(line=tok.map[0] + 1 if tok.map else 0, caption=caption, columns=unknown))
            i = end
        i += 1
    return Page(path=path or Path(name), papers=tuple(papers), rows=tuple(rows), skipped=tuple(skipped))


def _plain(inline) -> str:
    """The text of an inline token: markdown escapes resolved, HTML tags (<sup>) dropped, link text kept."""
    return "".join(c.content for c in inline.children or () if c.type in ("text", "code_inline")).strip()


def _links(inline) -> list[tuple[str, str]]:
    """(link text, href) of every link in an inline token."""
    out, href, label = [], None, []
    for child in inline.children or ():
        if child.type == "link_open":
            href, label = str(child.attrs.get("href", "")), []
        elif child.type == "link_close" and href is not None:
            out.append(("".join(label), href))
            href = None
        elif href is not None and child.type == "text":
            label.append(child.content)
    return out


def _table(tokens: list, *, caption: str, page: str) -> tuple[list[PageRow], tuple[str, ...]]:
    """The table's rows, or none and the columns no evaluator kind declares."""
    header: list[str] = []
    rows: list[PageRow] = []
    cells: list = []
    line = 0
    for tok in tokens:
        if tok.type == "tr_open":
            cells, line = [], tok.map[0] + 1 if tok.map else line
        elif tok.type == "inline":
            cells.append(tok)
        elif tok.type == "tr_close":
            if not header:
                header = [_plain(c) for c in cells]
                unknown = _check_header(header, page=page, line=line)
                if unknown:
                    return [], unknown
            else:
                rows.append(_row(header, cells, caption=caption, page=page, line=line))
    return rows, ()


def _check_header(header: list[str], *, page: str, line: int) -> tuple[str, ...]:
    """The columns no evaluator kind declares (the table is then skipped); a table without the columns every
    results table has is malformed."""
    missing = [h for h in ("Arch", "Input Size", "ckpt") if h not in header]
    if missing:
        raise PageError(
            f"{page}:{line}: results table header {header}: missing column(s) {missing}; expected Arch, Input Size, "
            f"metric columns ({', '.join(PAGE_COLUMNS)}), ckpt and log (and Set on Horse-10 pages)"
        )
    return tuple(h for h in header if h not in KNOWN_COLUMNS and h not in PAGE_COLUMNS)


def _row(header: list[str], cells: list, *, caption: str, page: str, line: int) -> PageRow:
    where = f"{page}:{line}"
    if len(cells) != len(header):
        raise PageError(f"{where}: row has {len(cells)} cells for {len(header)} columns; expected one cell per column")
    by_col = dict(zip(header, cells, strict=True))
    text = {h: _plain(c) for h, c in by_col.items()}
    ckpt = _link(by_col["ckpt"], "ckpt", where)
    if not CHECKPOINT_NAME.match(ckpt.rsplit("/", 1)[-1]):
        raise PageError(f"{where}: checkpoint {ckpt!r}; expected a file named <name>-<8 hex>_<YYYYMMDD>.pth")
    size = _SIZE.match(text["Input Size"])
    if size is None:
        raise PageError(f"{where}: Input Size {text['Input Size']!r}; expected HxW such as 256x192")
    for h in header:
        if h in PAGE_COLUMNS and not METRIC_TEXT.fullmatch(text[h]):
            raise PageError(
                f"{where}: {h} cell {text[h]!r} is not a number; expected a metric as the model-zoo pages print it, "
                "such as 0.870 (fix the page's table)"
            )
    arch_links = _links(by_col["Arch"])
    return PageRow(
        page=page,
        line=line,
        caption=caption,
        cells=text,
        metrics={PAGE_COLUMNS[h]: text[h] for h in header if h in PAGE_COLUMNS},
        ckpt_url=ckpt,
        log_url=_link(by_col["log"], "log", where) if "log" in by_col else "",
        config_link=arch_links[0][1] if arch_links else "",
        input_size=(int(size["h"]), int(size["w"])),
    )


def _link(inline, column: str, where: str) -> str:
    links = _links(inline)
    if len(links) != 1:
        raise PageError(f"{where}: {column} cell {inline.content!r}; expected exactly one [{column}](URL) link")
    return links[0][1]


class _Href(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _first_href(html: str) -> str:
    parser = _Href()
    parser.feed(html)
    return parser.hrefs[0] if parser.hrefs else ""


def _bibtex(text: str, *, name: str, line: int, role: str, url: str) -> list[PageBib]:
    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # we report failed blocks ourselves, with the page line
    try:
        library = bibtexparser.parse_string(text)
    finally:
        logger.setLevel(level)
    if library.failed_blocks or not library.entries:
        raise PageError(f"{name}:{line}: bibtex block does not parse; expected one @type{{key, field={{...}}}} entry")
    return [
        PageBib(
            key=e.key,
            role=role,
            entry_type=e.entry_type.lower(),
            fields={f.key.lower(): str(f.value) for f in e.fields},
            raw=e.raw.strip(),
            line=line,
            url=url,
        )
        for e in library.entries
    ]


def bib_fields(raw: str) -> dict[str, str]:
    """Field name -> value of one bibtex entry's source text (papers.bib entries, for comparison with a page)."""
    library = bibtexparser.parse_string(raw)
    return {f.key.lower(): str(f.value) for e in library.entries[:1] for f in e.fields}
