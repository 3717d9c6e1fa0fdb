"""Progress events from a run (stage work planned, shots done) to whoever displays them."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol


class Listener(Protocol):
    def planned(self, counts: dict[str, tuple[int, int]]) -> None:
        """Per stage: (jobs to compute, jobs in total)."""

    def done(self, stage: str, shot: int | None, computed: bool) -> None:
        """One job finished."""

    def retrying(self, stage: str, shot: int | None, delay: float, reason: str) -> None:
        """A job failed for a passing reason and waits ``delay`` seconds before its next attempt."""


class Silent:
    """The listener when nobody watches (e.g. a run started from the Prefect UI)."""

    def planned(self, counts: dict[str, tuple[int, int]]) -> None:
        """Ignore."""

    def done(self, stage: str, shot: int | None, computed: bool) -> None:
        """Ignore."""

    def retrying(self, stage: str, shot: int | None, delay: float, reason: str) -> None:
        """Ignore."""


_current: Listener = Silent()
_lock = threading.Lock()


def listen(listener: Listener | None) -> None:
    """Install the listener for the runs of this process (None: silence)."""
    global _current
    _current = listener or Silent()


def planned(counts: dict[str, tuple[int, int]]) -> None:
    """Tell the listener what the run will do."""
    with _lock:
        _current.planned(counts)


def done(stage: str, shot: int | None, computed: bool) -> None:
    """Tell the listener a job finished."""
    with _lock:
        _current.done(stage, shot, computed)


def retrying(stage: str, shot: int | None, delay: float, reason: str) -> None:
    """Tell the listener a job waits to try again, and why."""
    with _lock:
        _current.retrying(stage, shot, delay, reason)


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Tell ``listener`` of this process's runs inside the block; a listener that is a context manager (a display)
    is entered for the block too."""
    display = listener if isinstance(listener, AbstractContextManager) else nullcontext()
    with display:
        listen(listener)
        try:
            yield
        finally:
            listen(None)
