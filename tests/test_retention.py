"""The Prefect database stays bounded: runs past the retention go, with everything recorded about them.

One real `film make` records a run in a fresh Prefect home; copies of it (tests/prefect_db.py) stand for older
runs of the same shape.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.prefect import retention
from pipeline.prefect.retention import Retention
from tests.conftest import write_project
from tests.prefect_db import clone_run, counts, owned_rows

REPO = Path(__file__).resolve().parents[1]
SETTINGS = (retention.DAYS_SETTING, retention.RUNS_SETTING)


def film_make(project: Path, out: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """`film make` in a fresh process that records its run in ``home`` with the default retention."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", *SETTINGS)} | {"PREFECT_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out), *args],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, Path]:
    """A Prefect home holding one real run of the short film (with its artifacts and events)."""
    root = tmp_path_factory.mktemp("retention")
    place = {"home": root / "home", "project": write_project(root / "proj"), "out": root / "out"}
    film_make(place["project"], place["out"], place["home"])
    return place


def copy_of(home: Path, tmp_path: Path) -> Path:
    """A copy of ``home``'s database in a home of its own (through SQLite's backup: the WAL included)."""
    (tmp_path / "home").mkdir()
    target = tmp_path / "home" / retention.DATABASE
    with sqlite3.connect(home / retention.DATABASE) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


def only_run(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (run_id,), = db.execute("SELECT id FROM flow_run").fetchall()
    return run_id


def leftovers(path: Path) -> dict[str, int]:
    """Rows that belong to no flow run (or no event) any more: all must be zero after pruning."""
    checks = {
        "task runs": "SELECT count(*) FROM task_run WHERE flow_run_id NOT IN (SELECT id FROM flow_run)",
        "task run states": "SELECT count(*) FROM task_run_state WHERE task_run_id NOT IN (SELECT id FROM task_run)",
        "flow run states": "SELECT count(*) FROM flow_run_state WHERE flow_run_id NOT IN (SELECT id FROM flow_run)",
        "logs": "SELECT count(*) FROM log WHERE flow_run_id NOT IN (SELECT id FROM flow_run)",
        "artifacts": "SELECT count(*) FROM artifact WHERE flow_run_id NOT IN (SELECT id FROM flow_run)",
        "artifact keys": "SELECT count(*) FROM artifact_collection WHERE latest_id NOT IN (SELECT id FROM artifact)",
        "event resources": "SELECT count(*) FROM event_resources WHERE event_id NOT IN (SELECT id FROM events)",
        "events of gone runs": "SELECT count(*) FROM event_resources WHERE resource_id LIKE 'prefect.flow-run.%' "
                               "AND substr(resource_id, 18) NOT IN (SELECT id FROM flow_run)",
    }
    with sqlite3.connect(path) as db:
        return {what: db.execute(query).fetchone()[0] for what, query in checks.items()}


@pytest.mark.slow
def test_only_the_newest_runs_are_kept_and_nothing_of_the_others(recorded, tmp_path):
    path = copy_of(recorded["home"], tmp_path)
    newest = only_run(path)
    one = counts(path)
    with sqlite3.connect(path) as db:
        owned = {table: len(rows) for table, (_, rows) in owned_rows(db, newest).items()}
    assert min(owned.values()) > 0, owned  # the run has rows of every kind
    copies = clone_run(path, newest, 5)  # 1 h, 2 h, ... older
    assert counts(path)["task_run"] == one["task_run"] + 5 * owned["task_run"]
    pruned = retention.prune(path.parent, Retention(days=None, runs=2))
    assert pruned.runs == 4 and pruned.events == 4 * owned["events"]
    with sqlite3.connect(path) as db:
        assert {row[0] for row in db.execute("SELECT id FROM flow_run")} == {newest, copies[0]}
    after = counts(path)
    for table in ("task_run", "log", "artifact", "events", "event_resources"):
        assert after[table] == one[table] + owned[table], table
    assert after["artifact_collection"] == one["artifact_collection"]  # every key still shows its latest version
    assert set(leftovers(path).values()) == {0}, leftovers(path)


@pytest.mark.slow
def test_runs_that_ended_before_the_age_limit_go_and_so_do_older_events(recorded, tmp_path):
    path = copy_of(recorded["home"], tmp_path)
    newest = only_run(path)
    copies = clone_run(path, newest, 3, step=timedelta(days=20))  # 20, 40 and 60 days old
    assert retention.prune(path.parent, Retention(days=30, runs=None)).runs == 2
    with sqlite3.connect(path) as db:
        assert {row[0] for row in db.execute("SELECT id FROM flow_run")} == {newest, copies[0]}
        old = db.execute("SELECT count(*) FROM events WHERE occurred < datetime('now', '-30 days')").fetchone()[0]
    assert old == 0 and set(leftovers(path).values()) == {0}


@pytest.mark.slow
def test_a_file_of_mostly_free_pages_is_compacted(recorded, tmp_path, monkeypatch):
    monkeypatch.setattr(retention, "VACUUM_MIN_FREE_BYTES", 0)  # a real film's runs are far bigger than these
    path = copy_of(recorded["home"], tmp_path)
    one = counts(path)["bytes"]
    clone_run(path, only_run(path), 8)
    before = counts(path)["bytes"]
    pruned = retention.prune(path.parent, Retention(days=None, runs=1))
    assert pruned.runs == 8 and pruned.vacuumed
    after = counts(path)
    assert after["bytes"] < (one + before) / 2 and after["free bytes"] == 0, (one, before, after)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not retention.prune(path.parent, Retention(days=None, runs=1)).vacuumed  # nothing more to gain


@pytest.mark.slow
def test_a_busy_database_is_left_for_a_later_run(recorded, tmp_path, monkeypatch):
    monkeypatch.setattr(retention, "LOCK_TIMEOUT_S", 0.1)
    path = copy_of(recorded["home"], tmp_path)
    clone_run(path, only_run(path), 2)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another server in the middle of a write
    try:
        assert retention.prune(path.parent, Retention(days=None, runs=1)).runs == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert counts(path)["flow_run"] == 3


def test_no_database_no_work(tmp_path):
    assert retention.prune(tmp_path) == retention.Pruned()


def test_the_retention_is_a_setting(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert retention.configured() == Retention(days=30, runs=50)
    monkeypatch.setenv(retention.DAYS_SETTING, "off")
    monkeypatch.setenv(retention.RUNS_SETTING, "7")
    assert retention.configured() == Retention(days=None, runs=7)
    monkeypatch.setenv(retention.RUNS_SETTING, "0")
    assert retention.configured() == Retention(days=None, runs=None)
    for bad in ("-1", "many", "2.5"):
        monkeypatch.setenv(retention.RUNS_SETTING, bad)
        with pytest.raises(UserError, match=retention.RUNS_SETTING):
            retention.configured()


@pytest.mark.slow
def test_runs_past_the_retention_are_gone_after_the_next_run(recorded):
    """The end-to-end promise: a run prunes what is past the retention before it records itself."""
    path, home = recorded["home"] / retention.DATABASE, recorded["home"]
    first = only_run(path)
    clone_run(path, first, 2, step=timedelta(days=40))  # two runs long past the default 30 days
    done = film_make(recorded["project"], recorded["out"], home, "--force", "stitch")
    assert f"thisrunisrecordedin{home}" in "".join(done.stderr.split()), done.stderr  # wrapped to the terminal
    with sqlite3.connect(path) as db:
        runs = [row[0] for row in db.execute("SELECT id FROM flow_run ORDER BY start_time")]
    assert len(runs) == 2 and runs[0] == first, runs  # the old copies are gone; the first and this one stay
    assert set(leftovers(path).values()) == {0}, leftovers(path)
