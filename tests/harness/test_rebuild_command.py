"""The xtcocotools rebuild command names the environment it must run in (issue #21): a pipx venv's own pip through
`pipx runpip` with the build needs first, this interpreter's `-m pip` where it has pip, uv's pip for a pip-less venv;
never a bare `pip`, which may belong to another Python on PATH."""

from __future__ import annotations

import shlex

from harness import environment
from harness.environment import BUILD_NEEDS, PIPX_METADATA, XTCOCOTOOLS_REBUILD, pip_install, rebuild_command


def test_a_pipx_venv_gets_pipx_runpip_with_the_build_needs_first(tmp_path):
    venv = tmp_path / "pipx" / "venvs" / "hrnet-zoo"
    venv.mkdir(parents=True)
    (venv / PIPX_METADATA).write_text("{}")
    where = {"prefix": str(venv), "executable": str(venv / "bin" / "python"), "has_pip": False}
    assert pip_install(**where) == ("pipx", "pipx runpip hrnet-zoo install")
    first, second = rebuild_command("1.14.3", **where).split(" && ")
    assert first == f"pipx runpip hrnet-zoo install {BUILD_NEEDS}"
    assert second == "pipx runpip hrnet-zoo install " + XTCOCOTOOLS_REBUILD.format(version="1.14.3")
    assert "--no-build-isolation" in second and "--no-binary xtcocotools" in second


def test_a_venv_with_pip_gets_its_own_interpreter_quoted(tmp_path):
    python = str(tmp_path / "my env" / "bin" / "python")
    command = rebuild_command("1.14.3", prefix=str(tmp_path / "my env"), executable=python, has_pip=True)
    argv = shlex.split(command)
    assert argv[:4] == [python, "-m", "pip", "install"]  # the path with a space survives the shell
    assert argv[-1] == "xtcocotools==1.14.3" and "--force-reinstall" in argv and "--no-cache-dir" in argv
    assert not command.startswith("pip ")


def test_a_venv_without_pip_gets_uv_pointed_at_it(tmp_path):
    python = str(tmp_path / "bin" / "python")
    argv = shlex.split(rebuild_command("1.14.3", prefix=str(tmp_path), executable=python, has_pip=False))
    assert argv[:5] == ["uv", "pip", "install", "--python", python]
    assert {"--no-build-isolation", "--no-deps", "--no-cache"} <= set(argv) and argv[-1] == "xtcocotools==1.14.3"
    assert argv[argv.index("--no-binary") + 1] == "xtcocotools"
    assert argv[argv.index("--reinstall-package") + 1] == "xtcocotools"


def test_the_numpy1_message_carries_this_environments_command(monkeypatch, tmp_path):
    (tmp_path / PIPX_METADATA).write_text("{}")
    monkeypatch.setattr(environment.sys, "prefix", str(tmp_path))
    message = environment._import_failure("xtcocotools", ValueError("numpy.dtype size changed, may indicate ..."))
    fix = message.rsplit("(needs a C compiler): ", 1)[1]
    assert fix.startswith(f"pipx runpip {tmp_path.name} install {BUILD_NEEDS} && pipx runpip {tmp_path.name} ")
