"""`python -m harness fetch` against servers that do not say how long the file is, or send too much (issue 13.7).

The local HTTP server answers without Content-Length (`omit_length`): a transfer cut short then ends like a complete
one, and only the hash (or a 416 to a resume) tells them apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checkpoints import store
from harness.cli import main
from harness.commands import fetch as fetch_cmd
from tests.harness.checkpoints.test_fetch_cli import _entry
from zoo.registry.schema import Registry


@pytest.fixture
def fetch_cli(monkeypatch, cache: Path, capsys):
    """fetch_cli(served) -> (exit status, stdout, stderr) of `python -m harness fetch ckpt --no-progress`."""

    def run(served) -> tuple[int, str, str]:
        entry = _entry("ckpt", served.checkpoint)
        reg = Registry(entries={"ckpt": entry}, datasets={}, schemas={}, papers={})
        monkeypatch.setattr(fetch_cmd, "_load_registry", lambda: reg)
        code = main(["fetch", "ckpt", "--no-progress"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cut_short_without_length_is_resumed(serve, server, cache: Path, fetch_cli) -> None:
    s = serve()
    server.omit_length(s.path)
    server.truncate(s.path, after=100_000)  # the first answer stops at 100 kB and looks complete
    code, out, _ = fetch_cli(s)
    assert code == 0 and Path(out.strip()).read_bytes() == s.data
    first, second = server.requests_for(s.path)
    assert first.body_bytes == 100_000 and second.headers["range"] == "bytes=100000-" and second.status == 206


def test_cut_short_without_length_is_kept_when_the_rest_fails(serve, server, cache: Path, fetch_cli) -> None:
    s = serve()
    server.omit_length(s.path)
    server.truncate(s.path, after=100_000)
    server.fail(s.path, 503)  # ... and the network fails before the rest arrives
    code, out, err = fetch_cli(s)
    part = cache / f"{s.checkpoint.filename}.part"
    assert code == 1 and out == "" and "HTTP 503" in err
    assert part.stat().st_size == 100_000 and not store.expected_path(s.checkpoint).exists()
    code, out, _ = fetch_cli(s)  # the next fetch resumes where it stopped
    assert code == 0 and Path(out.strip()).read_bytes() == s.data and not part.exists()
    assert server.requests_for(s.path)[-1].headers["range"] == "bytes=100000-"


def test_wrong_file_without_length_is_refused_after_a_bounded_number_of_requests(serve, server, cache, fetch_cli):
    s = serve(body=b"another file entirely" * 10_000)
    server.omit_length(s.path)
    code, out, err = fetch_cli(s)
    assert code == 1 and out == "" and "does not verify" in err and s.checkpoint.sha256_prefix in err
    assert {p.name for p in cache.iterdir()} == {f"{s.checkpoint.filename}.lock"}
    # GET, a resume answered 416 (nothing more: complete and wrong), one fresh start, its resume: then the verdict.
    assert [r.status for r in server.requests_for(s.path)] == [200, 416, 200, 416]


def test_download_of_unknown_size_has_an_upper_bound(serve, server, cache, fetch_cli, monkeypatch) -> None:
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "0.1")  # 104857 bytes; the file has 300000
    s = serve()
    server.omit_length(s.path)
    code, _, err = fetch_cli(s)
    assert code == 1 and "more than the 104857 bytes allowed" in err and "HRNET_ZOO_MAX_DOWNLOAD_MB" in err
    assert "the bytes were deleted" in err
    assert {p.name for p in cache.iterdir()} == {f"{s.checkpoint.filename}.lock"}


def test_announced_size_above_the_bound_downloads_nothing(serve, server, cache, fetch_cli, monkeypatch) -> None:
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", "0.1")
    s = serve()  # with Content-Length: 300000
    code, _, err = fetch_cli(s)
    assert code == 1 and "announces 300000 bytes" in err and "nothing was downloaded" in err
    assert not (cache / f"{s.checkpoint.filename}.part").exists()


def test_registry_size_bounds_a_stream_that_sends_more(serve, server, cache, fetch_cli) -> None:
    data = b"published bytes" * 1000
    s = serve(data, body=data + b"and a lot more" * 10_000, full=True)
    server.omit_length(s.path)
    code, _, err = fetch_cli(s)
    assert code == 1 and f"the registry's size of {s.checkpoint.filename} ({len(data)} bytes)" in err
    assert not store.expected_path(s.checkpoint).exists()


@pytest.mark.parametrize("value", ["lots", "-5", "0", "inf"])
def test_bad_bound_setting_is_named(serve, server, cache, fetch_cli, monkeypatch, value: str) -> None:
    monkeypatch.setenv("HRNET_ZOO_MAX_DOWNLOAD_MB", value)
    s = serve()
    code, _, err = fetch_cli(s)
    assert code == 1 and f"HRNET_ZOO_MAX_DOWNLOAD_MB={value!r} is not a positive number" in err
    assert server.requests == []
