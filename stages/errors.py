"""Errors a backend raises, by who can fix them."""
from __future__ import annotations


class StageError(Exception):
    """A backend failed; ``hint`` says what to do about it. ``answer`` holds a provider's parsed error answer
    (its JSON body) when one came with the failure, for a backend to read the provider's own error code."""

    answer: object = None

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class InputError(StageError):
    """The user's input (a voice file, a prompt, an option) cannot be used: fix it and rerun."""


class ContentRejected(StageError):
    """A provider refused the content of one shot; retrying will not help."""


class TransientError(StageError):
    """A passing fault (timeout, overload); worth retrying, after ``retry_after`` seconds when the provider said."""

    def __init__(self, message: str, hint: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class AuthError(StageError):
    """A missing or refused key, or an exhausted account; stop at once."""


class BudgetExceeded(StageError):
    """A paid call would take the run past its --budget; it was not started."""
