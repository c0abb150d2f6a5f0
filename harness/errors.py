"""Every public error of the harness, in one file (zoo/errors.py holds the registry's and the root, ZooError). Each
says what is wrong, what was expected, and what to do next; the CLIs print `error: <message>` and exit non-zero.

The tree (a builtin in brackets is a second base, so `except ValueError` / `except OSError` keep working; the module
that raises it where it is not obvious):

    HarnessError [ZooError]
    ├── CheckpointError [ValueError]
    │   ├── UnsafeCheckpointError
    │   ├── CheckpointFormatError
    │   └── StateDictMismatchError
    ├── DownloadError [OSError]
    │   ├── OfflineError
    │   └── ChecksumMismatchError
    ├── DataError [ValueError]
    │   ├── UnsafeArchiveError
    │   ├── BadArchiveError
    │   ├── InsufficientSpaceError [OSError]
    │   ├── TermsNotAcceptedError
    │   ├── ManualStepsRequiredError
    │   └── DataCheckError
    ├── ModelOutputError [ValueError]
    ├── InstallError [ImportError]
    ├── OutputError [OSError]
    ├── MetricError [ValueError]        harness/metrics
    │   ├── PredictionError
    │   └── FastPathMismatchError
    ├── BottomUpConfigError [ValueError]        harness/bottomup
    ├── ArchitectureError [ValueError]          harness/models/posenet.py
    ├── InputSizeError [ValueError]             harness/models/hrnet.py
    ├── FoldError [RuntimeError]                harness/models/fold.py
    ├── DistributedError [RuntimeError]         harness/distributed.py
    └── OracleError [RuntimeError]              harness/oracle.py

The modules that raise these import them from here, and so does every caller (no module re-exports them). The
golden tests' verdicts (GoldenMismatchError, an AssertionError) are not the package's: they live with the test
helpers, tests/helpers/golden.py. Private control-flow exceptions (a leading underscore, never seen by a user) stay
in their modules. tests/test_errors.py checks that no other module defines a public exception and that the trees
above are the real ones.
"""

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


class BadArchiveError(DataError):
    """An archive that cannot be read (truncated, not the format) or lacks a member the registry names: not the
    archive the source describes. A download of it is deleted and never pinned (harness/data/fetch.py)."""


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


# -- scoring (harness.metrics) ----------------------------------------------------------------------------------


class MetricError(HarnessError, ValueError):
    """A scorer cannot run as asked (evaluator settings, keypoint schema, sigmas)."""


class PredictionError(MetricError):
    """Predictions do not fit the annotations they are scored against (unknown image, wrong keypoint count, NaN)."""


class FastPathMismatchError(MetricError):
    """The fast evaluator disagreed with the library on this input (a bug here: report it with the input)."""


# -- models and inference ---------------------------------------------------------------------------------------


class BottomUpConfigError(HarnessError, ValueError):
    """Bottom-up settings that the protocol cannot run (scales, sizes, flip index, thresholds)."""


class ArchitectureError(HarnessError, ValueError):
    """An Architecture record this package cannot build."""


class InputSizeError(HarnessError, ValueError):
    """An input whose (H, W) the network cannot process."""


class FoldError(HarnessError, RuntimeError):
    """A BatchNorm the folding pass does not know how to pair with its convolution."""


# -- running -----------------------------------------------------------------------------------------------------


class DistributedError(HarnessError, RuntimeError):
    """A multi-process run cannot start, or another rank failed (the message names the rank)."""


class OracleError(HarnessError, RuntimeError):
    """The oracle environment could not be built, or an oracle script failed; the message carries its stderr."""
