"""The one build step pyproject.toml cannot declare: ship the registry inside the package.

zoo.yaml stays at the repository root (the product's source file, edited there, and what the checkout reads), and the
demo's shipped files sit beside it (demo/checkpoints/, demo/documented.json), named by zoo.yaml's `file:` URLs
relative to its folder. package-data can only take files from inside a package folder, and a symlink or a second
copy in zoo/ would be two sources for one fact, so build_py copies them into the built package as zoo/shipped/, in
the same layout (the `file:` URLs resolve there unchanged). zoo/settings.py reads zoo/shipped/zoo.yaml when the
package is not in a checkout. A file missing at build time fails the build: a wheel without its registry is no wheel.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: What the wheel carries in zoo/shipped/, as globs relative to the repository root (and to zoo/shipped/).
SHIPPED = ("zoo.yaml", "demo/documented.json", "demo/checkpoints/*.pth", "demo/checkpoints/*.log.json")


def shipped_files() -> list[Path]:
    files = []
    for pattern in SHIPPED:
        found = sorted(ROOT.glob(pattern))
        if not found:
            raise SystemExit(f"setup.py: nothing matches {pattern!r} under {ROOT}; the wheel must ship it")
        files += found
    return files


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install runs from the checkout, which reads these files in place
            return
        for source in shipped_files():
            target = Path(self.build_lib, "zoo", "shipped", source.relative_to(ROOT))
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPy})
