"""Every `HRNET_ZOO_*` environment variable, declared once: name, type, default and meaning (as huggingface_hub's
`constants.py` keeps its own), with one typed accessor each. Every module that honours a variable reads it here.

The accessors read `os.environ` at each call (tests and users set variables after import; nothing is cached), and an
empty value counts as unset. A malformed value raises SettingError naming the variable and what it takes. `zoo`
holds this module because the registry verbs read some of the variables too and `zoo` must not import the harness.

docs/DESIGN.md carries the table of the variables, rendered from SETTINGS: `python -m zoo settings --check` fails
when it is stale, `--write` rewrites it (and `python -m zoo settings` shows each variable's value now).
Every verb of `python -m zoo` and `python -m harness` warns once on stderr about a variable in the environment that
starts with HRNET_ZOO_ but is none of these (a typo such as HRNET_ZOO_OFLINE would otherwise be ignored without a
word), naming the one it likely meant; `doctor` and `zoo settings` list them, and every malformed value, in place.

Two modes decide the defaults of the paths (docs/DESIGN.md, "Checkout and installed package"); a variable that is
set wins in both:

- checkout: the package sits in a tree with zoo.yaml and pyproject.toml beside it (a clone, an editable install).
  Every default is the repository's own: zoo.yaml, README.md, results/ (history), reports/, exports/.
- installed: anything else (a wheel in site-packages, pipx). The registry is the copy the wheel carries
  (zoo/shipped/, put there by setup.py at build time); history, runs and reports go to one user folder
  (HRNET_ZOO_HOME, default the platform's user data folder); README tables and exports have no default at all, so
  nothing is written into site-packages or into a README that happens to be in the current folder.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from zoo.errors import SettingError

PREFIX = "HRNET_ZOO_"
#: The folder that holds this package: the repository in a checkout, site-packages when installed from a wheel.
REPO = Path(__file__).resolve().parents[1]
#: Where an installed wheel carries the registry and the files it names by `file:` URL (the demo checkpoint), laid
#: out as they are beside the checkout's zoo.yaml (setup.py copies them there at build time).
SHIPPED = Path(__file__).resolve().parent / "shipped"
#: The distribution name (pyproject's [project] name), for platformdirs and importlib.metadata.
DISTRIBUTION = "hrnet-zoo"
#: The values a flag takes as "on" (case-insensitive); anything else is off.
TRUE_WORDS = ("1", "true", "yes", "on")
#: A flag set to anything else is an error, not "off": `HRNET_ZOO_OFFLINE=ture` must not quietly go online.
FALSE_WORDS = ("0", "false", "no", "off")

Kind = Literal["path", "flag", "MiB", "URL list", "integer", "0/1/unset", "marker"]
#: Who reads the variable: the registry verbs, the harness, the benchmarks or the test suite.
Reader = Literal["zoo", "harness", "benchmarks", "tests"]


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: str  # in words, as the table shows it
    meaning: str
    read_by: tuple[Reader, ...]

    def __str__(self) -> str:  # messages name the variable: f"set {settings.CACHE} to a writable folder"
        return self.name

    def raw(self) -> str | None:
        """The value in the environment now; None when unset or empty (either means the default)."""
        value = os.environ.get(self.name, "")
        return value if value.strip() else None


def _s(name: str, kind: Kind, default: str, meaning: str, *read_by: Reader) -> Setting:
    return Setting(PREFIX + name, kind, default, meaning, read_by)


HOME = _s(
    "HOME", "path", "the platform's user data folder (~/.local/share/hrnet-zoo on Linux)",
    "installed package: the user folder holding results/ (history), runs/ and reports/", "zoo", "harness",
)  # fmt: skip
REGISTRY = _s(
    "REGISTRY", "path", "checkout: its zoo.yaml; installed: the copy in the package",
    "the registry file (`--registry` wins)", "zoo",
)  # fmt: skip
README = _s(
    "README", "path", "checkout: its README.md; installed: none (`--readme` or this)",
    "the README whose tables `zoo readme`, `report` and `reproduce` write", "zoo",
)  # fmt: skip
RESULTS = _s(
    "RESULTS", "path", "checkout: its results/; installed: $HRNET_ZOO_HOME/results",
    "results root; the run history is its history/", "zoo",
)  # fmt: skip
EXPORTS = _s(
    "EXPORTS", "path", "checkout: its exports/; installed: none",
    "where `reproduce` refreshes Hub cards (`zoo export` takes OUTDIR)", "zoo",
)  # fmt: skip
REPORTS = _s(
    "REPORTS", "path", "checkout: its reports/; installed: $HRNET_ZOO_HOME/reports",
    "where `harness report` writes the pages", "harness",
)  # fmt: skip
CACHE = _s(
    "CACHE", "path", "$XDG_CACHE_HOME/hrnet-zoo/checkpoints, else ~/.cache/hrnet-zoo/checkpoints",
    "the verified checkpoint cache", "harness",
)  # fmt: skip
OFFLINE = _s("OFFLINE", "flag", "off", "no network: cached or hand-placed files only (as HF_HUB_OFFLINE)", "harness")
PREFER_MIRROR = _s("PREFER_MIRROR", "flag", "off", "try a checkpoint's Hub mirrors before its URL", "harness")
MAX_DOWNLOAD_MB = _s(
    "MAX_DOWNLOAD_MB", "MiB", "2048", "bound on a download whose size neither registry nor server states", "harness"
)
DATA = _s("DATA", "path", "./data", "the data root in the reference layout (`--data-root` wins)", "harness")
DATA_MIRROR = _s(
    "DATA_MIRROR", "URL list", "none",
    "comma-separated dataset mirrors after the registry's: https prefixes or hf://datasets/OWNER/REPO", "harness",
)  # fmt: skip
RUNS = _s(
    "RUNS", "path", "checkout: ./runs; installed: $HRNET_ZOO_HOME/runs",
    "working folder of `reproduce` (`--runs` wins)", "harness",
)  # fmt: skip
ORACLE_VENV = _s(
    "ORACLE_VENV", "path", "the checkout's .oracle/venv", "the MMPose 0.29 oracle's venv (read at import)", "harness"
)
ACCEPT_GOLDEN = _s("ACCEPT_GOLDEN", "flag", "off", "golden tests write their files (as --accept-golden)", "tests")
GOLDEN_THREADS = _s("GOLDEN_THREADS", "integer", "2", "torch threads of the golden cases", "tests")
ORACLE = _s("ORACLE", "0/1/unset", "unset", "parity tests: 1 builds the oracle, 0 skips, unset runs if built", "tests")
PIP_INSTALL = _s(
    "PIP_INSTALL", "flag", "off", "run the README install-block test (minutes; `nox -s readme-install-3.10`)", "tests"
)
MUNKRES1 = _s("MUNKRES1", "path", "the installed munkres", "a munkres 1.1.x munkres.py for the tie-order test", "tests")
TEST_LAUNCH = _s(
    "TEST_LAUNCH", "marker", "unset", "set by the distributed test on its launches to find them again", "tests"
)
REQUIRE_SLURM = _s(
    "REQUIRE_SLURM", "flag", "off",
    "the Slurm tests fail instead of skipping when their private cluster cannot start (.ci/run sets it)", "tests",
)  # fmt: skip
TEST_HOLD = _s(
    "TEST_HOLD", "path", "unset",
    "Slurm tests: a job holds after its first computed chunk until cancelled, unless DIR/<row>.held exists",
    "harness",
)  # fmt: skip

WHEEL_TEST = _s("WHEEL_TEST", "flag", "off", "run the built-wheel test (minutes; `nox -s wheel`)", "tests")

SETTINGS: tuple[Setting, ...] = (
    HOME, REGISTRY, README, RESULTS, EXPORTS, REPORTS, CACHE, OFFLINE, PREFER_MIRROR, MAX_DOWNLOAD_MB, DATA,
    DATA_MIRROR, RUNS, ORACLE_VENV, ACCEPT_GOLDEN, GOLDEN_THREADS, ORACLE, PIP_INSTALL, WHEEL_TEST, MUNKRES1,
    TEST_LAUNCH, REQUIRE_SLURM, TEST_HOLD,
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}
#: huggingface_hub's own offline switch, honoured alongside OFFLINE (not ours: not in SETTINGS).
HF_HUB_OFFLINE = "HF_HUB_OFFLINE"


# -- parsing ------------------------------------------------------------------------------------------------------


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def flag(setting: Setting) -> bool:
    raw = setting.raw()
    word = (raw or "0").strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise SettingError(
            f"{setting.name}={raw!r} is neither on ({'/'.join(TRUE_WORDS)}) nor off ({'/'.join(FALSE_WORDS)}); "
            "fix it or unset it"
        )
    return word in TRUE_WORDS


def _path(setting: Setting, default: Path | str) -> Path:
    return Path(setting.raw() or default)


# -- the two modes --------------------------------------------------------------------------------------------------


def in_checkout() -> bool:
    """Whether this package runs from a checkout (zoo.yaml and pyproject.toml beside it), not an installed wheel."""
    return (REPO / "zoo.yaml").is_file() and (REPO / "pyproject.toml").is_file()


def mode() -> Literal["checkout", "installed"]:
    return "checkout" if in_checkout() else "installed"


def home() -> Path:
    """The user folder of an installed package: $HRNET_ZOO_HOME, else the platform's user data folder."""
    if override := HOME.raw():
        return Path(override).expanduser()
    import platformdirs  # only here: the checkout's defaults never need it

    return platformdirs.user_data_path(DISTRIBUTION, appauthor=False)


def not_in_checkout(what: str, option: str, setting: Setting) -> SettingError:
    """The error of a verb asked to write `what` with no path for it in an installed package (no default there)."""
    return SettingError(
        f"an installed hrnet-zoo has no default {what}: pass {option} PATH or set {setting.name} "
        "(only a checkout writes its own)"
    )


# -- the registry verbs ---------------------------------------------------------------------------------------------


def default_registry() -> Path:
    """The checkout's zoo.yaml, or the copy an installed wheel carries."""
    return REPO / "zoo.yaml" if in_checkout() else SHIPPED / "zoo.yaml"


DEFAULT_REGISTRY = default_registry()


def registry_file() -> Path:
    return _path(REGISTRY, default_registry())


def readme_file(history: Path | None = None) -> Path | None:
    """The README whose tables show the run history `history` (default: the history every verb reads,
    results/history under $HRNET_ZOO_RESULTS): $HRNET_ZOO_README; else the checkout's README.md while that history is
    the checkout's own (a history elsewhere never rewrites the tracked README); None otherwise, and in an installed
    package."""
    if README.raw() is not None:
        return Path(README.raw())
    if readme_skipped(history) is not None:
        return None
    return REPO / "README.md"


def readme_skipped(history: Path | None = None) -> str | None:
    """Why no README shows the run history `history` by default (None when the checkout's README.md does): the one
    rule that the tracked README's tables come from the checkout's results/history."""
    if README.raw() is not None:
        return None
    if not in_checkout():
        return "installed package, no README of its own"
    own = (REPO / "results" / "history").resolve()
    fix = f"its README shows results/history (set {README.name} to write another README from it)"
    if history is not None:
        return None if history.resolve() == own else f"--history {history} is not the checkout's history: {fix}"
    if (results_dir() / "history").resolve() != own:
        return f"the history is {RESULTS.name}={RESULTS.raw()}, not the checkout's: {fix}"
    return None


def results_dir() -> Path:
    return _path(RESULTS, REPO / "results" if in_checkout() else home() / "results")


def exports_dir() -> Path | None:
    """exports/ of the checkout; None in an installed package unless $HRNET_ZOO_EXPORTS names a folder."""
    if EXPORTS.raw() is None and not in_checkout():
        return None
    return _path(EXPORTS, REPO / "exports")


# -- the harness ----------------------------------------------------------------------------------------------------


def reports_dir() -> Path:
    return _path(REPORTS, REPO / "reports" if in_checkout() else home() / "reports")


def cache_dir() -> Path:
    """Where verified checkpoints live."""
    if override := CACHE.raw():
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # XDG Base Directory spec: a relative path is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "hrnet-zoo" / "checkpoints"


def offline_switches() -> list[str]:
    """The names of the offline switches that are on (ours and huggingface_hub's)."""
    ours = [OFFLINE.name] if flag(OFFLINE) else []
    return ours + ([HF_HUB_OFFLINE] if truthy(os.environ.get(HF_HUB_OFFLINE)) else [])


def prefer_mirror() -> bool:
    return flag(PREFER_MIRROR)


#: The largest HRNet checkpoint of the zoo is ~250 MB; 2 GiB leaves room for any pose model while still stopping
#: an endless or wrong stream before it fills the disk.
DEFAULT_MAX_DOWNLOAD_MB = 2048


def max_download_mib() -> float:
    raw = MAX_DOWNLOAD_MB.raw()
    if raw is None:
        return float(DEFAULT_MAX_DOWNLOAD_MB)
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SettingError(
            f"{MAX_DOWNLOAD_MB.name}={raw.strip()!r} is not a positive number of MiB; unset it or fix it"
        )
    return value


def data_root() -> Path:
    return _path(DATA, "data")


def data_mirrors() -> list[str]:
    """The prefixes of $HRNET_ZOO_DATA_MIRROR (without a trailing slash), each an http(s) URL prefix or
    hf://datasets/OWNER/REPO[@REV]; SettingError for any other entry. The one rule: `data fetch` reads the mirrors
    through it and `doctor` checks them with it (ftp://... used to pass doctor and fail the fetch)."""
    out = []
    for entry in (DATA_MIRROR.raw() or "").split(","):
        prefix = entry.strip().rstrip("/")
        if not prefix:
            continue
        hub = prefix.startswith("hf://datasets/") and prefix.count("/") == 4  # hf://datasets/OWNER/REPO[@REV]
        if not (hub or prefix.startswith(("https://", "http://"))):
            raise SettingError(
                f"{DATA_MIRROR.name} entry {entry.strip()!r} is neither an http(s) URL prefix nor "
                "hf://datasets/OWNER/REPO[@REV]; fix it or unset it"
            )
        out.append(prefix)
    return out


def runs_dir() -> Path:
    return _path(RUNS, "runs" if in_checkout() else home() / "runs")


def oracle_venv() -> Path:
    """The oracle is built from the checkout's oracle/ (`nox -s parity`); an installed package has none by default."""
    return _path(ORACLE_VENV, (REPO if in_checkout() else home()) / ".oracle" / "venv").resolve()


def accept_golden() -> bool:
    return flag(ACCEPT_GOLDEN)


def golden_threads(default: int) -> int:
    raw = GOLDEN_THREADS.raw()
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(f"{GOLDEN_THREADS.name}={raw!r} is not a whole number of threads; unset it") from None


# -- the environment as a whole -------------------------------------------------------------------------------------


def likely_name(name: str) -> str | None:
    """The setting a mistyped HRNET_ZOO_* name most likely meant, or None. Compared without the shared prefix (which
    makes every name look alike: HRNET_ZOO_DATA_ROOT is closer to HRNET_ZOO_DATA_MIRROR than to HRNET_ZOO_DATA as
    whole strings). First a close spelling (OFLINE -> OFFLINE, RESULT -> RESULTS), then the longest setting the name
    starts with (DATA_ROOT -> DATA, CACHE_DIR -> CACHE), then the only setting that starts with the name
    (PREFER -> PREFER_MIRROR)."""
    tails = {s.name.removeprefix(PREFIX): s.name for s in SETTINGS}
    tail = name.removeprefix(PREFIX)
    close = difflib.get_close_matches(tail, tails, n=1, cutoff=0.8)
    if close:
        return tails[close[0]]
    starts = [t for t in tails if len(t) >= 3 and tail.startswith(t)]
    if starts:
        return tails[max(starts, key=len)]
    longer = [t for t in tails if len(tail) >= 3 and t.startswith(tail)]
    return tails[longer[0]] if len(longer) == 1 else None


def unknown(environ: os._Environ | dict[str, str] | None = None) -> list[str]:
    """A line per variable in the environment that starts with HRNET_ZOO_ but is no setting (ignored, so likely a
    typo), with the name it likely meant."""
    env = os.environ if environ is None else environ
    out = []
    for name in sorted(n for n in env if n.startswith(PREFIX) and n not in BY_NAME):
        meant = likely_name(name)
        hint = f"did you mean {meant}?" if meant else "see docs/DESIGN.md for the variables"
        out.append(f"{name} is not a setting of hrnet-zoo and is ignored; {hint}")
    return out


def warn_unknown(stream: TextIO | None = None) -> None:
    """Every verb of both command lines calls this once before it runs: a typo (HRNET_ZOO_OFLINE=1) would otherwise
    be ignored without a word, and `data fetch` would go online."""
    for line in unknown():
        print(f"warning: {line}", file=stream or sys.stderr)


def malformed_settings() -> list[tuple[Setting, str]]:
    """(setting, message) for each set variable whose value its accessor (the one the verbs call) rejects."""
    checks: list[tuple[Setting, Callable[[], object]]] = [
        (MAX_DOWNLOAD_MB, max_download_mib),
        (DATA_MIRROR, data_mirrors),
        (GOLDEN_THREADS, lambda: golden_threads(0)),
        *[(s, lambda s=s: flag(s)) for s in SETTINGS if s.kind == "flag"],
    ]
    out = []
    for setting, check in checks:
        try:
            check()
        except SettingError as exc:
            out.append((setting, str(exc)))
    return out


def malformed() -> list[str]:
    """The messages of the set variables whose value their accessor rejects."""
    return [message for _, message in malformed_settings()]


# -- the table in docs/DESIGN.md ------------------------------------------------------------------------------------

DESIGN = REPO / "docs" / "DESIGN.md"
START, END = "<!-- settings:start (python -m zoo settings --write) -->", "<!-- settings:end -->"


def table() -> str:
    lines = ["| variable | type | default | meaning | read by |", "|---|---|---|---|---|"]
    lines += [f"| `{s.name}` | {s.kind} | {s.default} | {s.meaning} | {', '.join(s.read_by)} |" for s in SETTINGS]
    return "\n".join(lines) + "\n"


def _with_table(text: str) -> str:
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SettingError(f"{DESIGN}: no `{START}` ... `{END}` markers; put them back around the table")
    return f"{head}{START}\n{table()}{END}{tail}"


def _design_text(design: Path) -> str:
    try:
        return design.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingError(
            f"{design}: cannot read ({exc.strerror}); the settings table lives in a checkout's docs/DESIGN.md"
        ) from None


def table_problems(design: Path = DESIGN) -> list[str]:
    """Why the table in docs/DESIGN.md is not the one SETTINGS renders (empty when it is)."""
    text = _design_text(design)
    if _with_table(text) != text:
        return [f"{design}: the table of HRNET_ZOO_* variables is stale; run `python -m zoo settings --write`"]
    return []


def write_table(design: Path = DESIGN) -> bool:
    """Render the table into docs/DESIGN.md (between the markers only); whether the file changed."""
    text = _design_text(design)
    wanted = _with_table(text)
    if wanted != text:
        design.write_text(wanted, encoding="utf-8")
    return wanted != text
