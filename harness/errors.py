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


class OutputError(HarnessError, OSError):
    """An output folder cannot be used: not a folder, not writable, or it holds files the harness did not write (or
    another run's) that would be replaced; nothing was run."""


# -- datasets (harness.data.fetch / extract / lock / check) ----------------------------------------------------


class UnsafeArchiveError(DataError):
    """An archive member would land outside its target (absolute path, `..`, a link leaving it) or is a device
    file; the archive was refused before anything was extracted."""


class InsufficientSpaceError(DataError, OSError):
    """Not enough free disk space for a download or an extraction; nothing was written."""


class TermsNotAcceptedError(DataError):
    """A dataset's terms of use need an explicit acceptance flag (`data fetch --accept-terms`)."""


class ManualStepsRequiredError(DataError):
    """Some artefacts have no direct download: the message lists the page, the exact file and where to put it."""


class DataCheckError(DataError):
    """A data folder does not hold what the documented rows read; carries every problem found, not only the first."""

    def __init__(self, problems: list[str], *, what: str) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{what}: {len(self.problems)} problem(s):\n{lines}")


class ChecksumMismatchError(DownloadError):
    """Bytes that do not match the checkpoint's published hash (or size): never used. `expected` is the registry's
    full sha256 or its prefix, `actual` the full sha256 of the bytes, `path` the file when it was kept."""

    def __init__(self, message: str, *, expected: str, actual: str, path: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.path = path


class CheckpointFormatError(CheckpointError):
    """The file is not a checkpoint format the harness reads (an HTML page, an empty file, a plain pickle, ...);
    the message names what the file really is, sniffed from its first bytes."""


class StateDictMismatchError(CheckpointError):
    """The checkpoint's keys, shapes or dtypes do not fit the architecture; carries the full `diff`
    (a harness.checkpoints.strict.StateDictDiff)."""

    def __init__(self, message: str, diff: object) -> None:
        super().__init__(message)
        self.diff = diff
