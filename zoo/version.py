"""The project's version, as the installed distribution's metadata states it (`--version` of every CLI)."""

from __future__ import annotations

from importlib import metadata

from zoo import settings


def version() -> str:
    """The installed version of hrnet-zoo; a checkout run without any install says so instead of guessing one."""
    try:
        return metadata.version(settings.DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed; `pip install -e .` in the checkout records one)"


def add_version_argument(parser) -> None:
    """`--version`: prints `hrnet-zoo VERSION` and exits 0."""
    text = f"{settings.DISTRIBUTION} {version()}"
    parser.add_argument("--version", action="version", version=text, help="print the installed version and exit")
