"""Errors the CLI turns into a clear message and an exit code, with no traceback."""
from __future__ import annotations


class FilmError(Exception):
    """Base of the errors we report ourselves; ``hint`` says how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UserError(FilmError):
    """Something the user can fix: a project file, a flag, a missing key (exit code 2)."""

    exit_code = 2


class RuntimeFailure(FilmError):
    """The run itself failed (exit code 1)."""
