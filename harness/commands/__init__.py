"""One module per CLI verb. Each defines `register(subparsers)`, which adds its sub-parser and sets
`func=run`, where `run(args) -> int` returns the exit code. harness/cli.py lists the modules."""


def add_scoring_argument(parser) -> None:
    from harness.spec import SCORING_BACKENDS

    """`--scoring library|fast`, shared by `evaluate`, `reproduce` and `score` (recorded with each result)."""
    parser.add_argument(
        "--scoring",
        choices=SCORING_BACKENDS,
        default="library",
        help="library (default: xtcocotools/pycocotools, the evaluator of record) or fast (vectorised, proven "
        "bit-identical on every test run; falls back to the library for inputs it does not model)",
    )
