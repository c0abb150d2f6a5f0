"""`data fetch` and a mistyped variable (issue 22, case 8): HRNET_ZOO_OFLINE=1 is no setting, so the fetch goes
online as if it were unset; the user is told so on stderr before the first request, naming the variable meant."""

from __future__ import annotations

import io
import sys

from harness.cli import main


class _Timeline(io.StringIO):
    """stderr that notes how many requests the server had answered when each line was written."""

    def __init__(self, server) -> None:
        super().__init__()
        self.server = server
        self.lines: list[tuple[int, str]] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.lines.append((len(self.server.requests), text))
        return super().write(text)


def test_a_mistyped_offline_switch_is_named_before_the_fetch_goes_online(data_env, monkeypatch):
    monkeypatch.setenv("HRNET_ZOO_OFLINE", "1")
    stderr = _Timeline(data_env.server)
    monkeypatch.setattr(sys, "stderr", stderr)
    rc = main(["data", "fetch", "atrw", "--data-root", str(data_env.root), "--no-progress", "--accept-terms"])
    warnings = [(n, text) for n, text in stderr.lines if "HRNET_ZOO_OFLINE is not a setting" in text]
    assert len(warnings) == 1, stderr.getvalue()
    requests_before, text = warnings[0]
    assert requests_before == 0 and "did you mean HRNET_ZOO_OFFLINE?" in text
    assert data_env.server.requests, "the fetch went online (the misspelt switch is not the offline switch)"
    assert rc == 0, stderr.getvalue()
