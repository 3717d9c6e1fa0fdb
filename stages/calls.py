"""What the pipeline lends a backend for the one artifact it is making: a journal and a till.

* The **journal** remembers provider facts between attempts and runs (a job id, a hosted result URL),
  so a retry or a rerun after a crash collects a result already paid for instead of paying again.
* The **till** prices every paid call before it starts (refusing one that would pass the run's budget)
  and records what was spent, per provider item, for the ledger.

Backends reach it with ``current()``; outside the pipeline (unit tests, scripts) a default one with no
journal file and no budget is used. The pipeline installs one per job with ``using()``.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.errors import BudgetExceeded, InputError
from stages.files import write_json_atomic


@dataclass
class Till:
    """Spend of the whole run against an optional budget; shared by every job, thread-safe."""

    budget_usd: float | None = None
    spent_usd: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, usd: float, what: str) -> None:
        """Count ``usd`` as spent, or raise BudgetExceeded (nothing counted) when it would pass the budget."""
        with self.lock:
            if self.budget_usd is not None and self.spent_usd + usd > self.budget_usd + 1e-9:
                raise BudgetExceeded(
                    f"{what} would cost ${usd:.4f}, taking the run to ${self.spent_usd + usd:.4f}, "
                    f"past the budget of ${self.budget_usd:.2f}; the call was not made",
                    hint="raise --budget, or rerun later: everything paid for so far is kept")
            self.spent_usd += usd

    def refund(self, usd: float) -> None:
        """Take back a reservation whose call was never billed."""
        with self.lock:
            self.spent_usd -= usd


@dataclass(frozen=True)
class Charge:
    """One paid call: provider price item, units used and their price."""

    item: str
    units: float
    usd: float


class Call:
    """The journal and till of one artifact's making; see the module docstring."""

    def __init__(self, journal: Path | None = None, till: Till | None = None,
                 prices: Mapping[str, float] | None = None, on_save: Callable[[Path], None] | None = None) -> None:
        from stages.cloud.prices import PRICES

        self.journal, self.till, self.on_save = journal, till or Till(), on_save
        self.prices = {**PRICES, **(prices or {})}
        self.charges: list[Charge] = []
        self._notes: dict[str, Any] = json.loads(journal.read_text()) if journal and journal.is_file() else {}

    def recall(self, name: str) -> Any:
        """What an earlier attempt remembered under ``name`` (None if nothing)."""
        return self._notes.get(name)

    def remember(self, name: str, value: Any) -> None:
        """Keep ``value`` under ``name`` for later attempts, on disk at once (atomically) when journaled."""
        self._notes[name] = value
        self.remember_all()

    def forget(self, name: str) -> None:
        """Drop what was remembered under ``name`` (a job that failed, a URL that expired)."""
        if name in self._notes:
            del self._notes[name]
            self.remember_all()

    def remember_all(self) -> None:
        """Write the journal as it stands (atomically), when there is one."""
        if self.journal is not None:
            write_json_atomic(self.journal, self._notes, indent=None)
            if self.on_save is not None:  # e.g. share it with the other workers of a cluster
                self.on_save(self.journal)

    def price(self, item: str) -> float:
        """Dollars per unit of a price item ("provider/what"); an unpriced item is a user error."""
        if item not in self.prices:
            raise InputError(f"no price for '{item}'",
                             hint=f"add '{item}: <USD per unit>' under 'prices:' in the project")
        return self.prices[item]

    @contextlib.contextmanager
    def paying(self, item: str, units: float, what: str) -> Iterator[None]:
        """Around one paid request: reserve its price first; refund it if the request raises (not billed)."""
        usd = self.price(item) * units
        self.till.reserve(usd, what)
        try:
            yield
        except BaseException:
            self.till.refund(usd)
            raise
        self.charges.append(Charge(item, units, usd))

    def settle(self, item: str, units: float) -> None:
        """Record a call billed by what it used (tokens), known only after it returned."""
        usd = self.price(item) * units
        with self.till.lock:
            self.till.spent_usd += usd
        self.charges.append(Charge(item, units, usd))


_CURRENT: contextvars.ContextVar[Call | None] = contextvars.ContextVar("film_call", default=None)


def current() -> Call:
    """The call the running job was lent; outside the pipeline a fresh unjournaled one each time, so
    nothing one request remembers leaks into another."""
    call = _CURRENT.get()
    return call if call is not None else Call()


@contextlib.contextmanager
def using(call: Call) -> Iterator[Call]:
    """Lend ``call`` to backend code run inside this block (this thread/context only)."""
    token = _CURRENT.set(call)
    try:
        yield call
    finally:
        _CURRENT.reset(token)
