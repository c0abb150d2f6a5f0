"""Every citation in the repository resolves to a file and a section that exist (issue 21).

Scans the tracked text (code, tests, help texts, templates, reports/, README.md, docs/, zoo.yaml, noxfile.py,
.ci/run) and names file:line and the citation when

(a) a cited document (an upper-case `NAME.md` such as `PROTOCOLS.md` or `docs/PARITY.md`, any relative `dir/x.md`
    path, a markdown link to an `.md` file in a markdown document) is not a file of the repository, or a section
    cited by name (`docs/PARITY.md, "The oracle environment"`) is not a heading of it;
(b) a cited section of a document does not exist there: `PROTOCOLS.md §N` and `§N.M` need a heading `## §N ...` /
    `### §N.M ...`; `§N step K` / `item K` need a numbered entry K in that section, `row K` a table row K;
    `§N "Name"` needs Name in that section's text; lists (`§2.1, §2.2`, `§4 steps 1-6`, `items 5, 9, 10`) and ranges
    (`§2-§5`) are checked one by one; `DESIGN.md principle K` needs entry K of its "Principles" section.
    A bare `§N` cites the document named just before it on the same line, else docs/PROTOCOLS.md (the project's
    convention, stated at the top of that file); `RFC 9110 §15.5.17` and the like are outside documents, skipped;
(c) anything cites the workshop folder beside the checkout (`../shared`) or the variable that pointed at it.

The planted-citation tests below prove each rule can fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC = "docs/PROTOCOLS.md"
#: This file's own examples and patterns would trip the rules it states.
SELF = "tests/test_doc_citations.py"
TEXT_SUFFIXES = {".py", ".md", ".j2", ".yaml", ".yml", ".toml", ".in", ".txt", ".cfg", ".bib", ".sh"}
EXTRA_TEXT = {".ci/run"}
#: Metavariables that name the user's own file (`zoo import PAGE.md`), not a document of ours.
PLACEHOLDERS = {"PAGE.md"}

DOC = re.compile(r"(?<![\w/.\-])((?:[\w.\-]+/)*[A-Z][A-Z0-9_]*\.md|(?:[\w.\-]+/)+[\w.\-]+\.md)(?!\.?\w)")
LINK = re.compile(r"\]\(([^)\s#]+\.md)(?:#[^)]*)?\)")
URL = re.compile(r"https?://[^\s)>\]\"'`]+")
LIST = r"\d+(?:\s*(?:[-–/,]|and|or)\s*\d+)*"
CITE = re.compile(
    r"§\s?(?P<sec>\d+(?:\.\d+)?)"
    r"(?:\s?[-–]\s?§\s?(?P<to>\d+))?"
    r"(?:,?\s*\"(?P<name>[A-Za-z][^\"\n]{0,59})\")?"
    rf"(?:,?\s+(?P<kind>steps?|items?|rows?)\s+(?P<list>{LIST}))?"
)
NAMED = re.compile(r"(?P<doc>[\w./\-]*[A-Z][A-Z0-9_]*\.md),?\s+\"(?P<name>[A-Z][^\"\n]{2,60})\"")
PRINCIPLE = re.compile(rf"(?P<doc>[\w./\-]*[A-Z][A-Z0-9_]*\.md),?\s+principles?\s+(?P<list>{LIST})")
#: What stands just before a `§`: a document of ours, or an outside standard whose sections are not ours to check.
BEFORE = re.compile(r"(?:(?P<doc>[\w./\-]*\w\.md)|(?P<ext>\b(?:RFC|PEP|ISO|IEC|IEEE)\s*[\d.\-]+))[\s\"'`*#(,]*$")
#: The retired variable, spelt in two parts: tests/zoo/test_settings.py fails on any undeclared name it finds.
RETIRED = "HRNET_ZOO_" + "SHARED"
WORKSHOP = re.compile(rf"\.\./shared\b|{RETIRED}|(?<![\w\-])shared/(?:data|seeds|family-pages|hooks)\b")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
SECTION_HEADING = re.compile(r"^§(\d+(?:\.\d+)?)\b")
NUMBERED = re.compile(r"^\s{0,3}(\d+)\.\s")
TABLE_ROW = re.compile(r"^\|\s*(\d+)\s*\|")


@dataclass(frozen=True)
class Section:
    text: str
    numbered: frozenset[int]
    rows: frozenset[int]


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def scanned(paths: list[str]) -> list[str]:
    """The project's own text: fixtures copied from elsewhere (tests/data) are skipped except our notes on them."""
    keep = []
    for p in paths:
        if p == SELF or not (Path(p).suffix in TEXT_SUFFIXES or p in EXTRA_TEXT):
            continue
        if p.startswith("tests/data/") and Path(p).name not in ("README.md", "PROVENANCE.md"):
            continue
        keep.append(p)
    return keep


def sections(text: str) -> dict[str, Section]:
    """`§N` / `§N.M` headings -> their text up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    heads = [(i, len(m.group(1)), m.group(2)) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    out = {}
    for n, (i, level, title) in enumerate(heads):
        end = next((j for j, lv, _ in heads[n + 1 :] if lv <= level), len(lines))
        body = lines[i:end]
        key = m.group(1) if (m := SECTION_HEADING.match(title)) else title.strip().lower()
        out[key] = Section(
            text="\n".join(body).lower(),
            numbered=frozenset(int(m.group(1)) for line in body if (m := NUMBERED.match(line))),
            rows=frozenset(int(m.group(1)) for line in body if (m := TABLE_ROW.match(line))),
        )
    return out


def numbers(spec: str) -> list[int]:
    """'1-3, 5' -> [1, 2, 3, 5]."""
    out: list[int] = []
    tokens = re.findall(r"\d+|[-–]", spec)
    for i, tok in enumerate(tokens):
        if tok in "-–" and 0 < i < len(tokens) - 1:
            out.extend(range(int(tokens[i - 1]) + 1, int(tokens[i + 1])))
        elif tok not in "-–":
            out.append(int(tok))
    return out


class Checker:
    def __init__(self, root: Path, paths: list[str]):
        self.root = root
        self.tracked = set(paths)
        self.by_name: dict[str, list[str]] = {}
        for p in paths:
            self.by_name.setdefault(Path(p).name, []).append(p)
        self.index = cache(self._index)

    def resolve(self, cited: str, where: str) -> str | None:
        """A cited path -> the tracked file it names: from the root, beside the citing file, or under docs/."""
        here = os.path.dirname(where)
        for cand in (cited, os.path.join(here, cited), os.path.join("docs", cited)):
            if (norm := os.path.normpath(cand)) in self.tracked:
                return norm
        names = self.by_name.get(cited, []) if "/" not in cited else []
        return names[0] if names else None

    def _index(self, doc: str) -> dict[str, Section]:
        return sections((self.root / doc).read_text(encoding="utf-8"))

    def problems(self, path: str) -> list[str]:
        lines = (self.root / path).read_text(encoding="utf-8").splitlines()
        found: list[str] = []
        for i, line in enumerate(lines):
            # The line before counts for a `§`: a citation wraps as "(PROTOCOLS.md\n    # §5)".
            found += [f"{path}:{i + 1}: {what}" for what in self.line(line, lines[i - 1] if i else "", path)]
        return found

    def line(self, line: str, before: str, path: str) -> list[str]:
        urls = [m.span() for m in URL.finditer(line)]
        out = []
        # Links in code and templates point at generated pages (relative to their output folder), not at our files.
        links = LINK.finditer(line) if path.endswith(".md") else ()
        for m in [*DOC.finditer(line), *links]:
            cited = m.group(1)
            if any(a <= m.start(1) < b for a, b in urls) or cited in PLACEHOLDERS or "{" in cited:
                continue
            if (m.re is LINK and os.path.normpath(os.path.join(os.path.dirname(path), cited)) not in self.tracked) or (
                m.re is DOC and self.resolve(cited, path) is None
            ):
                out.append(f"{cited!r}: no such document in the repository")
        if (m := WORKSHOP.search(line)) and not path.startswith("tests/data/"):  # provenance notes may name it
            out.append(f"{m.group(0)!r}: cites the folder beside the checkout; the repository must hold what it uses")
        out += self.section_cites(line, before, path)
        for m in NAMED.finditer(line):
            doc = self.resolve(m.group("doc"), path)
            if doc and not any(k.startswith(m.group("name").lower()) for k in self.index(doc)):
                out.append(f'{m.group(0)!r}: {doc} has no heading "{m.group("name")}"')
        for m in PRINCIPLE.finditer(line):
            doc = self.resolve(m.group("doc"), path)
            have = next((s for k, s in self.index(doc).items() if "principles" in k), None) if doc else None
            for k in numbers(m.group("list")):
                if doc and (have is None or k not in have.numbered):
                    out.append(f"{m.group(0)!r}: {doc} has no principle {k}")
        return out

    def section_cites(self, line: str, before: str, path: str) -> list[str]:
        out, doc = [], None
        for m in CITE.finditer(line):
            if b := BEFORE.search((before + "\n" + line[: m.start()])[-160:]):
                if b.group("ext"):
                    doc = "external"
                    continue
                doc = self.resolve(b.group("doc"), path)
            elif doc is None:
                doc = SPEC
            if doc in (None, "external"):
                continue  # an unknown document is reported above; an outside standard is not ours to check
            out += [f"{m.group(0).strip()!r}: {why}" for why in self.check(doc, m)]
        return out

    def check(self, doc: str, m: re.Match) -> list[str]:
        index = self.index(doc)
        secs = [m.group("sec")]
        if m.group("to"):
            secs = [str(n) for n in range(int(m.group("sec")), int(m.group("to")) + 1)]
        missing = [f"{doc} has no section §{s}" for s in secs if s not in index]
        if missing:
            hint = " (an entry of a list is cited as '§N item K' or '§N step K')" if "." in secs[0] else ""
            return [missing[0] + hint]
        sec = index[secs[0]]
        out = []
        if (name := m.group("name")) and name.lower() not in sec.text:
            out.append(f'{doc} §{secs[0]} does not mention "{name}"')
        if kind := m.group("kind"):
            have = sec.rows if kind.startswith("row") else sec.numbered
            wanted = numbers(m.group("list"))
            out += [f"{doc} §{secs[0]} has no {kind.rstrip('s')} {k}" for k in wanted if k not in have]
        return out


def find_problems(root: Path, paths: list[str], scan: list[str] | None = None) -> list[str]:
    """Problems of the files `scan` (default: every scanned file of `paths`); `paths` is what exists."""
    checker = Checker(root, paths)
    return [p for path in (scanned(paths) if scan is None else scan) for p in checker.problems(path)]


def test_every_citation_resolves():
    problems = find_problems(REPO, tracked_files(REPO))
    assert not problems, "broken citations:\n" + "\n".join(problems)


def test_the_specification_has_its_numbered_sections():
    index = sections((REPO / SPEC).read_text(encoding="utf-8"))
    assert {str(n) for n in range(1, 11)} <= set(index), sorted(index)
    assert set(range(1, 15)) <= index["8"].numbered  # the traps, cited as "§8 item K"


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory) -> tuple[Path, list[str]]:
    """A temporary copy of the repository's documents (the file list is the real one), clean before anything is
    planted in it."""
    root = tmp_path_factory.mktemp("repo")
    paths = tracked_files(REPO)
    docs = [p for p in paths if p.startswith("docs/") and p.endswith(".md")]
    for p in docs:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / p, root / p)
    assert find_problems(root, paths, docs) == []
    return root, paths


#: Planted beside the documents, so that a relative link resolves as in docs/.
PLANTED = "docs/planted.md"
GOOD = [
    "# PROTOCOLS.md §4 steps 1-6, §8 items 5, 9, 10",
    "# (PROTOCOLS.md §2.1, §2.2) and docs/PARITY.md",
    "# PROTOCOLS.md §2-§5; §9 row 1",
    '# PROTOCOLS.md §4 "HeatmapParser", steps 1-6',
    "# RFC 9110 §15.5.17: not one of our documents",
    "# docs/DESIGN.md principle 6",
    '# docs/PARITY.md, "The oracle environment"',
    "# see [the spec](PROTOCOLS.md#1-models)",
    "# (RFC 9110\n# §15.5.17)",
]
BAD = [
    ("# PROTOCOLS.md §98", "no section §98"),
    ("# PROTOCOLS.md §8.3", "no section §8.3"),
    ("# PROTOCOLS.md §3 step 9", "no step 9"),
    ("# PROTOCOLS.md §4 steps 1-6, §8 items 5, 99", "no item 99"),
    ("# PROTOCOLS.md §90-§98", "no section §90"),
    ("# bare §7.4 defaults to the specification", "no section §7.4"),
    ('# PROTOCOLS.md §4 "No such part"', 'does not mention "No such part"'),
    ("# PROTOCOLS.md §9 row 23", "no row 23"),
    ("# see ORACLE.md", "'ORACLE.md': no such document"),
    ("# see docs/NOPE.md", "'docs/NOPE.md': no such document"),
    ("# see [that](missing.md)", "'missing.md': no such document"),
    ("# read ../shared/data/samples", "'../shared'"),
    (f"# set {RETIRED}", f"'{RETIRED}'"),
    ("# docs/DESIGN.md principle 40", "no principle 40"),
    ('# docs/PARITY.md "The oracle garden"', 'has no heading "The oracle garden"'),
    ("# wrapped (docs/PARITY.md\n# §4)", "docs/PARITY.md has no section §4"),
]


@pytest.mark.parametrize("line", GOOD)
def test_good_citations_pass(copy_root, line):
    root, paths = copy_root
    (root / PLANTED).write_text(f'"""x"""\n{line}\n')
    assert find_problems(root, [*paths, PLANTED], [PLANTED]) == []


@pytest.mark.parametrize(("line", "expected"), BAD)
def test_planted_bad_citation_is_caught(copy_root, line, expected):
    root, paths = copy_root
    (root / PLANTED).write_text(f'"""x"""\n{line}\n')
    problems = find_problems(root, [*paths, PLANTED], [PLANTED])
    last = 2 + line.count("\n")
    assert len(problems) == 1 and problems[0].startswith(f"{PLANTED}:{last}: "), problems
    assert expected in problems[0], problems
