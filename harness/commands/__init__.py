"""One module per CLI verb. Each defines `register(subparsers)`, which adds its sub-parser and sets
`func=run`, where `run(args) -> int` returns the exit code. harness/cli.py lists the modules."""


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
