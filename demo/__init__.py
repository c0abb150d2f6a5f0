"""The checkout's demo folder: the shipped checkpoint (checkpoints/), its documented numbers (documented.json) and
README.md. The demo's code lives in harness/demo/ (installed with the package); this package only keeps the
checkout's short command `python -m demo.generate` working. It is never installed (pyproject's packages.find)."""
