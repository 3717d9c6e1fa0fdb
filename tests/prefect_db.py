"""Helpers for tests and benchmarks on a real Prefect SQLite database: copy a recorded flow run, rows and all.

``clone_run`` repeats one flow run of a real `film make` (its states, task runs and their states, logs, artifacts,
events and event resources) under new ids, each copy ``step`` earlier than the last: synthetic runs of exactly
the shape film records, at a fraction of a real run's cost.
"""
from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# what one flow run owns: (table, the column tying a row to it, what that column holds)
OWNED = (("flow_run", "id", "run"), ("flow_run_state", "flow_run_id", "run"), ("task_run", "flow_run_id", "run"),
         ("task_run_state", "task_run_id", "task runs"), ("log", "flow_run_id", "run"),
         ("artifact", "flow_run_id", "run"), ("events", "id", "events"), ("event_resources", "event_id", "events"))


def owned_rows(db: sqlite3.Connection, run_id: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row the flow run ``run_id`` owns, per table: (columns, rows)."""
    tasks = [row[0] for row in db.execute("SELECT id FROM task_run WHERE flow_run_id = ?", (run_id,))]
    events = [row[0] for row in db.execute("SELECT DISTINCT event_id FROM event_resources WHERE resource_id = ?",
                                           (f"prefect.flow-run.{run_id}",))]
    keys = {"run": [run_id], "task runs": tasks, "events": events}
    found = {}
    for table, column, holds in OWNED:
        cursor = db.execute(f"SELECT * FROM {table} WHERE {column} IN ({','.join('?' * len(keys[holds]))})",
                            keys[holds])
        found[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    return found


def clone_run(path: Path, run_id: str, copies: int, step: timedelta = timedelta(hours=1)) -> list[str]:
    """Insert ``copies`` copies of flow run ``run_id`` into the database at ``path``, copy k shifted k * ``step``
    into the past; their ids."""
    with closing(sqlite3.connect(path)) as db, db:
        rows = owned_rows(db, run_id)
        owned = {str(row[cols.index("id")]) for cols, table_rows in rows.values() for row in table_rows}
        made = []
        for k in range(1, copies + 1):
            rewrite = _rewriter(owned, step * k)
            for table, (cols, table_rows) in rows.items():
                for row in table_rows:
                    values = [rewrite(column, value) for column, value in zip(cols, row)]
                    if table == "flow_run":
                        values[cols.index("idempotency_key")] = None
                        made.append(str(values[cols.index("id")]))
                    db.execute(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", values)
    return made


def _rewriter(owned: set[str], shift: timedelta) -> Callable[[str, object], object]:
    """What a column's value becomes in a copy: each owned id a new one (the same everywhere), times ``shift``
    earlier."""
    ids: dict[str, str] = {}

    def new_id(match: re.Match) -> str:
        old = match.group(0)
        return ids.setdefault(old, str(uuid.uuid4())) if old in owned else old

    def rewrite(column: str, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = UUID.sub(new_id, value)
        if column == "total_run_time" or not STAMP.fullmatch(value):  # a duration, or not a time
            return value
        return (datetime.strptime(value, STAMP_FORMAT) - shift).strftime(STAMP_FORMAT)

    return rewrite


def counts(path: Path) -> dict[str, int]:
    """Rows per table of interest, and the file's pages: in use and free (bytes)."""
    with closing(sqlite3.connect(path)) as db:
        found = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                 for table in ("flow_run", "task_run", "log", "artifact", "artifact_collection", "events",
                               "event_resources")}
        (size,), (pages,), (free,) = (db.execute(f"PRAGMA {name}").fetchone()
                                      for name in ("page_size", "page_count", "freelist_count"))
    return found | {"bytes": pages * size, "free bytes": free * size}
