"""One error hierarchy for the backoffice; each class carries its own exit code.

The CLI entry point catches `BackofficeError` once and prints its message as a
single line; everything else is a bug and shows a traceback.
"""

from __future__ import annotations


class BackofficeError(Exception):
    """Base of all errors the backoffice reports to its user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # one line, always
        return " ".join(self.message.split())


class ConfigError(BackofficeError):
    """The collection config, a `collection/` file or a setting is invalid."""

    exit_code = 2


class StorageError(BackofficeError):
    """The storage backend failed (after retries)."""

    exit_code = 3


class NotFoundError(BackofficeError):
    """A concept, draft, version or object does not exist."""

    exit_code = 4


class ConflictError(BackofficeError):
    """A concurrent writer changed the record first, or the target already exists."""

    exit_code = 5


class IllegalTransitionError(BackofficeError):
    """A status step that the lifecycle does not allow."""

    exit_code = 6


class PermissionDeniedError(BackofficeError):
    """The actor may not do this (not a reviewer, not an owner of the id)."""

    exit_code = 7


class PackageError(BackofficeError):
    """The uploaded package is malformed, unsafe or too large."""

    exit_code = 8


class InvalidIdError(BackofficeError):
    """A concept id that does not match its type's pattern."""

    exit_code = 9


class DownloadError(BackofficeError):
    """A package URL that is not allowed or could not be fetched."""

    exit_code = 10


class ValidationFailedError(BackofficeError):
    """A resource description failed validation."""

    exit_code = 11


class DynamicTestError(BackofficeError):
    """A dynamic test could not be run or did not pass."""

    exit_code = 12



class ExternalServiceError(BackofficeError):
    """Zenodo, GitHub or the mail server answered with an error."""

    exit_code = 13


class InvalidArgumentError(BackofficeError):
    """A command argument that cannot be used (empty reason, unknown option value)."""

    exit_code = 14


class ZenodoRefusedError(ExternalServiceError):
    """Zenodo refused a request (4xx other than 429): bad metadata, a missing deposition."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ZenodoUnavailableError(ExternalServiceError):
    """Zenodo did not answer, or answered 429/5xx until we gave up.

    `maybe_done`: the request may have taken effect (a POST whose answer was lost);
    whoever retries must first find out what happened."""

    def __init__(self, message: str, *, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done


class BackupIncompleteError(ExternalServiceError):
    """Some versions could not be backed up to Zenodo (each is named in the log and summary)."""
class ReportRejectedError(BackofficeError):
    """A compatibility report that cannot be accepted (format, size, partner, version, sha256)."""

    exit_code = 15


class ImportSourceError(BackofficeError):
    """A collection to import cannot be read (no index.json, not JSON, not the running format)."""

    exit_code = 16


class ImportRefusedError(BackofficeError):
    """An import ran to its end, but refused resources or versions (each named with its reason)."""

    exit_code = 18


class SandboxError(BackofficeError):
    """A process of the sandbox user outlived its command: the step stops rather than go on
    beside code of the upload it could not end."""

    exit_code = 17


class TakeoverDiffersError(BackofficeError):
    """`compare-collection` found differences from the running collection that `docs/import.md`
    does not list as intended."""

    exit_code = 20
