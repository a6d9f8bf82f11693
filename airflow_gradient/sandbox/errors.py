"""Errors the sandbox's Python API raises (the HTTP side turns them into error replies)."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of the sandbox's own errors."""


class ValidationError(SandboxError, ValueError):
    """A request or settings object the real service would reject as invalid."""


class NotFoundError(SandboxError, LookupError):
    """A job, run, project, recommendation, workspace or destination that does not exist.

    :param message: what was looked for, as the real service words it.
    :param status: HTTP status the real service answers with.
    :param code: the service's error code for it.
    """

    def __init__(self, message: str, *, status: int = 404, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        return self.message


class ConflictError(SandboxError):
    """An object that already exists, e.g. a notification destination of the same name."""
