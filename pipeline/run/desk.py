"""How one run pays for and paces its work: the budget till, per-provider concurrency and the retry loop.

Every job goes through ``Desk.attempt``: it waits for a slot of its backend's provider (local backends
share ``workers`` slots), lends the backend a ``Call`` (journal + till, see stages/calls.py) and retries
transient faults with exponential backoff, honouring a provider's Retry-After. Content refusals, key
problems, bad input and the budget are never retried.
"""
from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages import calls
from stages.backend import Backend
from stages.errors import TransientError

LOCAL = "local"
LONGEST_WAIT_S = 600.0  # a Retry-After longer than this is not worth sitting through


@dataclass(frozen=True)
class Spend:
    """Money spent by one job of this run (also on attempts that failed after paying)."""

    stage: str
    shot: int | None
    item: str
    units: float
    usd: float


@dataclass
class Desk:
    """Per-run state shared by all jobs: the till, the provider slots and the retry policy."""

    workers: int
    attempts: int = 4
    backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    budget_usd: float | None = None
    prices: dict[str, float] = field(default_factory=dict)
    concurrency: dict[str, int] = field(default_factory=dict)
    on_retry: Callable[[str, int | None, int, float, TransientError], None] | None = None

    def __post_init__(self) -> None:
        self.till = calls.Till(self.budget_usd)
        self.spent: list[Spend] = []
        self.busy: dict[tuple[str, int | None], float] = {}  # seconds each job held its slot (not waiting for one)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def slots_of(self, backend: Backend) -> int:
        """How many jobs of this backend's provider may run at once."""
        if backend.provider is None:
            return self.workers
        return self.concurrency.get(backend.provider, backend.concurrency)

    def _slot(self, backend: Backend) -> threading.BoundedSemaphore:
        name = backend.provider or LOCAL
        with self._lock:
            if name not in self._slots:
                self._slots[name] = threading.BoundedSemaphore(max(1, self.slots_of(backend)))
            return self._slots[name]

    def wait_before(self, attempt: int, error: TransientError) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the provider's Retry-After, else jittered backoff."""
        if error.retry_after is not None:
            return min(error.retry_after, LONGEST_WAIT_S)
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)

    def attempt(self, stage: str, shot: int | None, backend: Backend, journal: Path | None,
                work: Callable[[], Any], journal_saved: Callable[[Path], None] | None = None) -> Any:
        """Run ``work`` (a backend call) in a provider slot with a Call lent, retrying transient faults."""
        for attempt in range(1, self.attempts + 1):
            call = calls.Call(journal=journal, till=self.till, prices=self.prices, on_save=journal_saved)
            try:
                with self._slot(backend), calls.using(call), self._timed(stage, shot):
                    return work()
            except TransientError as error:
                if attempt == self.attempts:
                    raise
                delay = self.wait_before(attempt, error)
                if self.on_retry is not None:
                    self.on_retry(stage, shot, attempt, delay, error)
                time.sleep(delay)
            finally:
                self._book(stage, shot, call)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _timed(self, stage: str, shot: int | None) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.busy[(stage, shot)] = self.busy.get((stage, shot), 0.0) + time.perf_counter() - started

    def _book(self, stage: str, shot: int | None, call: calls.Call) -> None:
        with self._lock:
            self.spent.extend(Spend(stage, shot, c.item, c.units, c.usd) for c in call.charges)

    def spend_by(self, what: str) -> dict[Any, float]:
        """Dollars spent this run, by ``"stage"`` or by ``"shot"``."""
        totals: dict[Any, float] = {}
        for spend in self.spent:
            name = getattr(spend, what)
            totals[name] = round(totals.get(name, 0.0) + spend.usd, 6)
        return totals
