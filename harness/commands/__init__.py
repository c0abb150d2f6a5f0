"""One module per CLI verb. Each defines `register(subparsers)`, which adds its sub-parser and sets
`func=run`, where `run(args) -> int` returns the exit code. harness/cli.py lists the modules."""


def add_data_root_argument(parser, *, what: str) -> None:
    """`--data-root DIR`, shared by `evaluate`, `reproduce`, `data` and `doctor`; its default is the setting
    HRNET_ZOO_DATA (zoo/settings.py), applied by the verb so that the setting is read when it runs."""
    from pathlib import Path

    from zoo import settings

    parser.add_argument(
        "--data-root", type=Path, default=None, metavar="DIR", help=f"{what} (default: ${settings.DATA} or ./data)"
    )


def add_scoring_argument(parser) -> None:
    from harness.spec import SCORING_BACKENDS

    """`--scoring library|fast`, shared by `evaluate`, `reproduce` and `score` (recorded with each result)."""
    parser.add_argument(
        "--scoring",
        choices=SCORING_BACKENDS,
        default="fast",
        help="fast (default: the vectorised evaluator, per-joint breakdown included, proven bit-identical to the "
        "library on every test run; inputs it does not model go to the library; the record says which ran) or "
        "library (xtcocotools/pycocotools themselves, the evaluator of record)",
    )


def add_json_argument(parser) -> None:
    """`--json`: the verb prints one JSON object on stdout instead of its text (the shapes: docs/DESIGN.md,
    "Machine-readable output"). Messages for people still go to stderr; an error that stops the verb prints
    `error: ...` there, no JSON, and exits non-zero, exactly as without --json."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout instead of text (docs/DESIGN.md)"
    )


def print_json(obj) -> None:
    """The verb's JSON document on stdout: indented, keys in the order the verb built them, paths as strings."""
    import json

    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str), flush=True)
