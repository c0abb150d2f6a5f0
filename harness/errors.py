"""Errors of the harness. Each says what is wrong, what was expected, and what to do next."""

from __future__ import annotations

from zoo.errors import ZooError


class HarnessError(ZooError):
    """Root of the harness's errors."""


class CheckpointError(HarnessError, ValueError):
    """A checkpoint file cannot be loaded safely, or does not fit the architecture."""


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle would execute code or build a type outside the allow-list; it was not loaded."""


class DownloadError(HarnessError, OSError):
    """A download failed or produced bytes that do not verify."""


class OfflineError(DownloadError):
    """The file is not cached and the network is off (or unreachable); the message names URL and target path."""


class DataError(HarnessError, ValueError):
    """Annotations, images or box files are missing or malformed."""


class ModelOutputError(HarnessError, ValueError):
    """The model produced something the protocol cannot decode (non-finite values, wrong channel count)."""


class InstallError(HarnessError, ImportError):
    """A dependency is missing or was built for another numpy; the message names the command that fixes it
    (harness/environment.py; `python -m harness doctor` checks them all)."""
