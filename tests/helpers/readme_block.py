"""The README's install block as the commands a user types: the one fenced shell block between a line starting
`<!-- install:start` and the line `<!-- install:end -->`. tests/test_readme_install.py runs what this returns, so a
block that cannot be read is an error here, never an empty list (a test that runs nothing would pass)."""

from __future__ import annotations

START = "<!-- install:start"
END = "<!-- install:end -->"
SHELLS = ("bash", "sh", "shell")


def install_commands(readme: str) -> list[str]:
    """The block's commands in order: blank and comment-only lines dropped, backslash continuations joined.
    ValueError naming what is wrong when the markers or the fence are not exactly as described above."""
    lines = readme.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(START)]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(
            f"README: expected one `{START} ... -->` line followed by one `{END}` line; found {len(starts)} "
            f"start and {len(ends)} end marker(s)"
        )
    body = [line for line in lines[starts[0] + 1 : ends[0]] if line.strip()]
    fences = [i for i, line in enumerate(body) if line.startswith("```")]
    if fences != [0, len(body) - 1] or body[0][3:].strip() not in SHELLS:
        raise ValueError(
            f"README: between the install markers put exactly one fenced block opened by ```bash (or sh) and "
            f"nothing else; found {len(fences)} fence line(s), the first {body[0] if body else 'absent'!r}"
        )
    commands: list[str] = []
    pending = ""
    for line in body[1:-1]:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if not command.startswith("#"):
            commands.append(command)
    if pending or not commands:
        raise ValueError("README: the install block holds no command, or ends in a line continuation")
    return commands
