"""The GreenlineError tree: each failure a user can see, with exit code, HTTP status and hint."""

from __future__ import annotations


class GreenlineError(Exception):
    """Base of all errors greenline reports to a person; never shown with a traceback."""

    exit_code = 3
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nHint: {self.hint}"
        return self.message


class UsageError(GreenlineError):
    """A flag, argument or command the user gave is wrong."""

    exit_code = 4
    http_status = 400


class ConfigError(UsageError):
    """A configuration value (pyproject.toml, environment) is wrong."""


class InputError(UsageError):
    """A file the user handed us (JUnit XML, export) cannot be read."""

    http_status = 422


class VcsError(UsageError):
    """git is missing, or the directory or revision is not what the command needs."""


class StoreError(GreenlineError):
    """The store cannot be opened or used (unreachable server, foreign or newer schema)."""

    exit_code = 4
    http_status = 503


class StoreBusyError(StoreError):
    """Another writer held the store's lock for longer than the busy timeout: greenline's
    trouble, never the user's (a recording session runs its tests unrecorded)."""


class NoDataError(GreenlineError):
    """The store has nothing for the request (no runs yet, unknown run or test id)."""

    exit_code = 5
    http_status = 404


class ForgeError(GreenlineError):
    """A code host or CI provider refused or failed a request (token, rate limit, network)."""

    exit_code = 4
    http_status = 502


class ForgeConflictError(ForgeError):
    """The code host refused a change that contradicts its state (a ref update that is not a
    fast-forward, a branch that already exists)."""

    http_status = 409


class ConflictError(UsageError):
    """The request contradicts what the store holds (a batch for a finished upload, a finish
    before every batch arrived)."""

    http_status = 409


class ServerError(GreenlineError):
    """The team server refused a request (token, scope, input): the user's to fix."""

    exit_code = 4
    http_status = 502


class ServerUnavailableError(ServerError):
    """The team server did not answer, or kept failing, until the retries ran out: greenline's
    trouble (a recording session runs its tests unrecorded, selection runs everything)."""

    exit_code = 3
    http_status = 503
