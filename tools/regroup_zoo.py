"""Group zoo/ by concern: move its modules into subpackages and rewrite every reference to their old paths.

    python tools/regroup_zoo.py            # move (git mv) what is still at its old path, then rewrite references
    python tools/regroup_zoo.py --rewrite  # only rewrite references (after merging branches that import old paths)
    python tools/regroup_zoo.py --check    # exit 1 when a reference to an old path, or an unplaced zoo/*.py, is left

Idempotent: a module already moved is not moved again, and a reference already rewritten no longer matches (every
pattern names an old path, `zoo.history`, which `zoo.results.history` does not contain). The rewrite covers imports
(`from zoo.X import`, `import zoo.X`, `from zoo import X, Y` split by new home), dotted names in strings, docstrings
and docs (`zoo.X.name`, mock targets), and file paths (`zoo/X.py`, `"zoo" / "X.py"`) in every tracked text
file: .py, .md, .toml, .cfg, .ini, .yaml, .yml, .j2, .txt, MANIFEST.in, the noxfile and .ci/. Generated data
(results/, reports/, exports/) and test data (tests/data/, tests/golden/data/, tests/fixtures/) cite no module and
are left alone. After a rewrite, run `ruff check --fix` and `ruff format` (import order) and `lint-imports`.

No re-export shim is left behind at an old path: an import of an old path fails loudly, and --check names it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: New home of every zoo module that moves: old module name -> subpackage. Anything not named here stays at zoo/.
MOVES: dict[str, str] = {
    # the registry: zoo.yaml, keypoints.yaml and papers.bib read into typed records
    "schema": "registry",
    "load": "registry",
    "yamltree": "registry",
    "keypoints": "registry",
    "rules": "registry",
    "rows": "registry",
    "protocol_reader": "registry",
    "dataset_reader": "registry",
    "checkpoint_reader": "registry",
    "bib": "registry",
    # the page and export formats: model-zoo pages in, README tables / metafiles / Hub cards / search out
    "pages": "formats",
    "importer": "formats",
    "sync": "formats",
    "model_index": "formats",
    "ecosystem": "formats",
    "hf_cards": "formats",
    "export": "formats",
    "formats_cli": "formats",
    "readme": "formats",
    "render": "formats",
    "generated": "formats",
    "search": "formats",  # imports ecosystem (the task names): in the registry it would make a cycle
    # the results: run records, their history, verdicts and the standing every page reads
    "history": "results",
    "verdicts": "results",
    "record": "results",
    "provenance": "results",
    "standing": "results",
    "portable": "results",
}

#: Small shared leaves that stay at zoo/ (every subpackage may import them; they import no subpackage).
STAYS = {"__init__", "__main__", "errors", "settings", "atomic", "version", "dependencies", "cli"}

#: Docstrings of the new subpackages.
PACKAGE_DOCS = {
    "registry": "The registry: zoo.yaml, keypoints.yaml and papers.bib read into frozen, validated records (schema).",
    "formats": "Page and export formats: model-zoo pages in (import, sync); README tables, model-index metafiles, Hub\n"
    "cards, JSON and search out.",
    "results": "Run results: the run record with its typed identity and provenance, the append-only history,\n"
    "verdicts, each row's standing, and the portable paths that recorded files hold.",
}

#: Paths a moved module computes from its own location (one folder deeper now): (new file, old text, new text).
FIXUPS = [
    ("zoo/registry/load.py", "PACKAGE_DIR = Path(__file__).resolve().parent\n",
     "PACKAGE_DIR = Path(__file__).resolve().parents[1]  # zoo/: keypoints.yaml and papers.bib\n"),
    ("zoo/formats/render.py", 'ZOO_TEMPLATES = Path(__file__).resolve().parent / "templates"',
     'ZOO_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"'),
]  # fmt: skip

TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".j2", ".txt", ".in"}
SKIP_DIRS = ("results/", "reports/", "exports/", "tests/data/", "tests/golden/data/", "tests/fixtures/")
SELF = "tools/regroup_zoo.py"
#: Files that quote old paths on purpose: this tool and its test.
OWN = (SELF, "tests/test_regroup_zoo.py")

_NAMES = "|".join(sorted(MOVES, key=len, reverse=True))
#: `zoo.X` not preceded by a name or dot (tests.zoo.X is another module) and not followed by a name character.
DOTTED = re.compile(rf"(?<![\w.])zoo\.({_NAMES})(?![\w])")
#: `zoo/X.py` not preceded by a name or a folder (tests/zoo/X.py is another file).
SLASHED = re.compile(rf"(?<![\w/.])zoo/({_NAMES})\.py\b")
#: `"zoo" / "X.py"`: a path joined with pathlib in code.
JOINED = re.compile(rf"""(["'])zoo\1(\s*/\s*)(["'])({_NAMES})\.py\3""")
#: `from zoo import a, b as c` on one line, or in parentheses over several.
FROM_ZOO = re.compile(
    r"^(?P<indent>[ \t]*)from zoo import (?:\((?P<multi>[^)]*)\)|(?P<single>[^\n#]+?))(?P<tail>[ \t]*(?:#[^\n]*)?)$",
    re.MULTILINE,
)
#: The line length of ruff's configuration (pyproject.toml): prose lengthened past it by a rewrite is re-wrapped.
LINE_LENGTH = 120
NEW_PREFIXES = tuple(f"zoo{sep}{package}{sep}" for package in set(MOVES.values()) for sep in "./")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    files = []
    for name in out:
        if name in OWN or name.startswith(SKIP_DIRS):
            continue
        path = ROOT / name
        if (path.suffix in TEXT_SUFFIXES or path.name in ("noxfile.py", "MANIFEST.in") or name.startswith(".ci/")) and (
            path.is_file()
        ):
            files.append(path)
    return files


def move_modules() -> list[str]:
    """git mv each module still at zoo/<old>.py into zoo/<package>/; create the packages. Returns what moved."""
    moved = []
    for package, doc in PACKAGE_DOCS.items():
        init = ROOT / "zoo" / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(exist_ok=True)
            init.write_text(f'"""{doc}"""\n')
            subprocess.run(["git", "add", str(init)], cwd=ROOT, check=True)
    for old, package in MOVES.items():
        source = ROOT / "zoo" / f"{old}.py"
        if source.exists():
            target = ROOT / "zoo" / package / f"{old}.py"
            subprocess.run(["git", "mv", str(source), str(target)], cwd=ROOT, check=True)
            moved.append(f"zoo/{old}.py -> zoo/{package}/{old}.py")
    for name, before, after in FIXUPS:
        path = ROOT / name
        if path.exists() and before in path.read_text():
            path.write_text(path.read_text().replace(before, after))
    return moved


def _split_from_zoo(match: re.Match) -> str:
    """`from zoo import history, settings` -> `from zoo import settings` + `from zoo.results import history`."""
    names = match.group("multi") if match.group("multi") is not None else match.group("single")
    items = [n.strip() for n in names.replace("\n", " ").split(",") if n.strip()]
    if not any(item.split(" as ")[0].strip() in MOVES for item in items):
        return match.group(0)
    homes: dict[str, list[str]] = {}
    for item in items:
        name = item.split(" as ")[0].strip()
        homes.setdefault(f"zoo.{MOVES[name]}" if name in MOVES else "zoo", []).append(item)
    indent, tail = match.group("indent"), match.group("tail").rstrip()
    lines = [f"{indent}from {home} import {', '.join(names)}" for home, names in homes.items()]
    lines[0] += tail
    return "\n".join(lines)


def rewrite_text(text: str, *, markdown: bool = False) -> str:
    fresh = FROM_ZOO.sub(_split_from_zoo, text)
    fresh = DOTTED.sub(lambda m: f"zoo.{MOVES[m.group(1)]}.{m.group(1)}", fresh)
    fresh = SLASHED.sub(lambda m: f"zoo/{MOVES[m.group(1)]}/{m.group(1)}.py", fresh)
    fresh = JOINED.sub(lambda m: f"{m[1]}zoo{m[1]}{m[2]}{m[3]}{MOVES[m[4]]}{m[3]}{m[2]}{m[3]}{m[4]}.py{m[3]}", fresh)
    return fresh if fresh == text else rewrap(fresh, markdown=markdown)


def _prose_lines(lines: list[str], markdown: bool) -> list[bool]:
    """Which lines are prose: a comment, or inside a triple-quoted string (a docstring), or any line of markdown."""
    out, inside = [], False
    for line in lines:
        quotes = line.count('"""')
        one_line_docstring = quotes == 2 and line.lstrip().startswith('"""')
        out.append(
            markdown or inside or line.lstrip().startswith("#") or (quotes == 1 and not inside) or one_line_docstring
        )
        inside ^= quotes % 2 == 1
    return out


def rewrap(text: str, *, markdown: bool = False) -> str:
    """Re-wrap the prose lines that a longer module path pushed past LINE_LENGTH: the overflowing words move to the
    start of the next line of the same paragraph (or onto a new line), as far as needed. Code lines are left to ruff."""
    lines = text.split("\n")
    prose = _prose_lines(lines, markdown)
    carried = False  # the line before overflowed into this one
    i = 0
    while i < len(lines):
        line = lines[i]
        eligible = carried or any(p in line for p in NEW_PREFIXES)
        carried = False
        if len(line) <= LINE_LENGTH or not prose[i] or not eligible or line.lstrip().startswith("|"):
            i += 1
            continue
        cut = line.rfind(" ", 0, LINE_LENGTH + 1)
        indent = line[: len(line) - len(line.lstrip())]
        comment = indent + "# " if line.lstrip().startswith("#") else indent
        if cut <= len(comment):
            i += 1
            continue
        head, rest = line[:cut].rstrip(), line[cut + 1 :]
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        nxt_indent = nxt[: len(nxt) - len(nxt.lstrip())] if nxt else ""
        body = nxt.lstrip().removeprefix("# ") if nxt and line.lstrip().startswith("#") else (nxt or "").lstrip()
        continues = (
            nxt is not None
            and prose[i + 1]
            and body.strip()
            and nxt.lstrip().startswith("#") == line.lstrip().startswith("#")
            and not re.match(r"([-*|#>]|\d+\.|```|\"\"\")", body)
        )
        lines[i], carried = head, True
        if continues:
            lead = nxt_indent + ("# " if line.lstrip().startswith("#") else "")
            lines[i + 1] = lead + rest + " " + body
        else:
            lines.insert(i + 1, comment + rest)
            prose.insert(i + 1, True)
        i += 1
    return "\n".join(lines)


def rewrite_tree() -> list[Path]:
    changed = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        fresh = rewrite_text(text, markdown=path.suffix == ".md")
        if fresh != text:
            path.write_text(fresh, encoding="utf-8")
            changed.append(path)
    return changed


def leftovers() -> list[str]:
    """References to old paths still in the tree, and zoo/*.py modules that neither stay nor are mapped."""
    problems = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if rewrite_text(text, markdown=path.suffix == ".md") != text:
            problems.append(f"{path.relative_to(ROOT)}: references an old zoo module path")
    for module in sorted((ROOT / "zoo").glob("*.py")):
        if module.stem in MOVES:
            problems.append(f"{module.relative_to(ROOT)}: not moved yet (run without --rewrite)")
        elif module.stem not in STAYS:
            problems.append(f"{module.relative_to(ROOT)}: not placed: add it to MOVES (or STAYS) in {SELF}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--rewrite", action="store_true", help="only rewrite references to old paths (no git mv)")
    mode.add_argument("--check", action="store_true", help="exit 1 when an old path or an unplaced module is left")
    args = parser.parse_args(argv)
    if args.check:
        problems = leftovers()
        print("\n".join(problems) or "zoo/ is grouped; no reference to an old module path is left")
        return 1 if problems else 0
    if not args.rewrite:
        for line in move_modules():
            print(f"moved {line}")
    for path in rewrite_tree():
        print(f"rewrote {path.relative_to(ROOT)}")
    for line in leftovers():
        print(f"note: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
