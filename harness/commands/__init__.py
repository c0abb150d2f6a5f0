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
