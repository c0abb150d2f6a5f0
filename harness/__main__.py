import sys

from zoo.dependencies import run_main


def _main() -> int:
    from harness.cli import main  # inside run_main: a missing base dependency is named, not a traceback

    return main()


sys.exit(run_main(_main))
