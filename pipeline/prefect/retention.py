"""Keep a Prefect home's database bounded: runs past the retention go, with everything recorded about them.

Every run adds its task runs, states, logs, artifacts and events to ``<home>/prefect.db`` (a few MB for a long
film). Before a run's own server starts (``early_server``), and before `film ui` starts its server, ``prune``
deletes the flow runs past the retention: those that ended more than FILM_PREFECT_KEEP_DAYS days ago (default
30) and all but the newest FILM_PREFECT_KEEP_RUNS runs (default 50); 0 or ``off`` lifts a limit. A run still
going (not in a final state, active within a day) is never deleted by count. With a run go its task runs and
states (the database cascades them), its logs, its artifacts (an artifact key whose versions are all gone goes
too) and the events about it, and events older than the age limit; when at least a quarter of the file, and
``VACUUM_MIN_FREE_BYTES``, is then free pages, the file is compacted (``VACUUM``). Only Prefect's default SQLite
database is touched, in one transaction that a busy or unfamiliar database just leaves alone. This module never
imports Prefect.
"""
from __future__ import annotations

import math
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.errors import UserError

DAYS_SETTING, RUNS_SETTING = "FILM_PREFECT_KEEP_DAYS", "FILM_PREFECT_KEEP_RUNS"
DEFAULT_DAYS, DEFAULT_RUNS = 30.0, 50
MAX_DAYS = 36500.0  # more is no limit, and would not fit a date
DATABASE = "prefect.db"
LOCK_TIMEOUT_S = 2.0  # another server writing: leave the pruning to a later run
STALE_AFTER = timedelta(days=1)  # a run not in a final state and quiet this long is dead (its process was killed)
VACUUM_MIN_FREE_BYTES = 8 * 2**20
VACUUM_MIN_FREE_SHARE = 0.25
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
# Prefect's own database vacuum service, which a lasting server (`film ui`) runs every hour
VACUUM_TYPES = "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"
VACUUM_PERIOD = "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"
_BATCH = 500  # ids per statement, well under SQLite's limit on bound parameters
_STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how Prefect's SQLite database writes its (UTC) timestamps


@dataclass(frozen=True)
class Retention:
    """How much run history a Prefect home keeps: runs that ended within ``days``, at most the newest ``runs``
    (None: no such limit)."""

    days: float | None = DEFAULT_DAYS
    runs: int | None = DEFAULT_RUNS


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` did: flow runs and events deleted, whether the file was compacted, and the time it took."""

    runs: int = 0
    events: int = 0
    vacuumed: bool = False
    seconds: float = 0.0


def configured() -> Retention:
    """The retention set in the environment (FILM_PREFECT_KEEP_DAYS, FILM_PREFECT_KEEP_RUNS), else the defaults."""
    days = _limit(DAYS_SETTING, DEFAULT_DAYS, "a number of days")
    runs = _limit(RUNS_SETTING, DEFAULT_RUNS, "a whole number of runs", whole=True)
    return Retention(None if days is None else min(days, MAX_DAYS), None if runs is None else int(runs))


def _limit(name: str, default: float, what: str, whole: bool = False) -> float | None:
    """The limit set in environment variable ``name``: None when it is 0 or ``off``."""
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0 and (value.is_integer() or not whole)):
        raise UserError(f"{name}={os.environ[name]!r} is not {what}", f"set {name} to {what} (0 or off: no limit)")
    return value or None


def lasting_server_settings(keep: Retention) -> dict[str, str]:
    """Prefect settings that make a lasting server's vacuum service delete flow runs (with their logs and
    artifacts) that ended more than ``keep.days`` ago; none without an age limit."""
    if not keep.days:
        return {}
    return {VACUUM_TYPES: "events,flow_runs", VACUUM_PERIOD: str(max(3601, round(keep.days * 86400)))}  # > 1 h


def prune(home: Path, keep: Retention | None = None, now: datetime | None = None) -> Pruned:
    """Delete what ``home``'s Prefect database holds beyond the retention (default: ``configured()``), then
    compact the file when it is mostly free pages; nothing when there is no database or it is busy."""
    path = home / DATABASE
    if not path.is_file():
        return Pruned()
    keep = configured() if keep is None else keep
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    db = sqlite3.connect(path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = ON")  # a flow run's task runs, states and inputs go with it
        try:
            db.execute("BEGIN IMMEDIATE")
            runs = _doomed_runs(db, keep, now)
            events = _delete_runs(db, runs) + _delete_events_before(db, now, keep.days)
            db.execute("COMMIT")
        except sqlite3.Error:  # busy, or not the schema we know: the next run tries again
            if db.in_transaction:
                db.execute("ROLLBACK")
            return Pruned(seconds=_since(started))
        vacuumed = _vacuum_if_bloated(db)
    finally:
        db.close()
    return Pruned(len(runs), events, vacuumed, _since(started))


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _doomed_runs(db: sqlite3.Connection, keep: Retention, now: datetime) -> list[str]:
    """The top-level flow runs past the retention, newest first."""
    cutoff = _stamp(now - timedelta(days=keep.days)) if keep.days else None
    stale = _stamp(now - STALE_AFTER)
    rows = db.execute(
        "SELECT id, coalesce(end_time, start_time, expected_start_time, created), state_type, updated FROM flow_run "
        "WHERE parent_task_run_id IS NULL "
        "ORDER BY coalesce(start_time, expected_start_time, created) DESC, created DESC")
    doomed = []
    for rank, (run_id, last, state, updated) in enumerate(rows):
        settled = state in FINAL_STATES or updated < stale
        if (cutoff is not None and last < cutoff) or (keep.runs is not None and rank >= keep.runs and settled):
            doomed.append(run_id)
    return doomed


def _delete_runs(db: sqlite3.Connection, runs: list[str]) -> int:
    """Delete flow runs with their logs, artifacts and the events about them; the number of events deleted."""
    events = 0
    for start in range(0, len(runs), _BATCH):
        batch = runs[start:start + _BATCH]
        marks = ",".join("?" * len(batch))
        db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed_event (id TEXT PRIMARY KEY)")
        db.execute(f"INSERT OR IGNORE INTO doomed_event SELECT event_id FROM event_resources "
                   f"WHERE resource_id IN ({marks})", [f"prefect.flow-run.{run}" for run in batch])
        db.execute("DELETE FROM event_resources WHERE event_id IN (SELECT id FROM doomed_event)")
        events += db.execute("DELETE FROM events WHERE id IN (SELECT id FROM doomed_event)").rowcount
        db.execute("DELETE FROM doomed_event")
        for table in ("log", "artifact"):  # no cascade from flow_run to these
            db.execute(f"DELETE FROM {table} WHERE flow_run_id IN ({marks})", batch)
        db.execute(f"DELETE FROM flow_run WHERE id IN ({marks})", batch)
    if runs:
        _repoint_artifact_keys(db)
    return events


def _repoint_artifact_keys(db: sqlite3.Connection) -> None:
    """An artifact key whose latest version was deleted shows its newest remaining one, or goes with its last."""
    fields = "data, description, type, created, updated, flow_run_id, task_run_id, metadata_"
    newest = f"SELECT id, {fields} FROM artifact WHERE artifact.key = artifact_collection.key"
    gone = "latest_id NOT IN (SELECT id FROM artifact)"
    db.execute(f"UPDATE artifact_collection SET (latest_id, {fields}) = ({newest} ORDER BY created DESC LIMIT 1) "
               f"WHERE {gone} AND EXISTS ({newest})")
    db.execute(f"DELETE FROM artifact_collection WHERE {gone}")


def _delete_events_before(db: sqlite3.Connection, now: datetime, days: float | None) -> int:
    """Delete every event older than ``days`` (about runs or not); the number deleted."""
    if not days:
        return 0
    cutoff = _stamp(now - timedelta(days=days))
    db.execute("DELETE FROM event_resources WHERE occurred < ?", (cutoff,))
    return db.execute("DELETE FROM events WHERE occurred < ?", (cutoff,)).rowcount


def _vacuum_if_bloated(db: sqlite3.Connection) -> bool:
    """Compact the file when free pages are at least a quarter of it and ``VACUUM_MIN_FREE_BYTES``."""
    try:
        (pages,), (free,), (size,) = (db.execute(f"PRAGMA {name}").fetchone()
                                      for name in ("page_count", "freelist_count", "page_size"))
        if free * size < VACUUM_MIN_FREE_BYTES or free < pages * VACUUM_MIN_FREE_SHARE:
            return False
        db.execute("VACUUM")
    except sqlite3.Error:  # another connection is using it: a later run compacts it
        return False
    return True


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP)
