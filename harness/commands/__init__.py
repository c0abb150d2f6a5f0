"""One module per CLI verb. Each defines `register(subparsers)`, which adds its sub-parser and sets
`func=run`, where `run(args) -> int` returns the exit code. harness/cli.py lists the modules."""
