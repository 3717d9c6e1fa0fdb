"""`film make` in a fresh process starts Prefect's ephemeral server itself, early, and stops it at exit."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import early_server
from pipeline.errors import RuntimeFailure
from tests.conftest import write_project

REPO = Path(__file__).resolve().parents[1]


def _servers_of(home: Path) -> list[int]:
    """Live uvicorn Prefect servers whose PREFECT_HOME is ``home``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prefect.server.api.server:create_app" in command and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(pid))
    return found


@pytest.mark.slow
def test_a_fresh_make_runs_against_its_own_early_server_and_stops_it(tmp_path):
    home = tmp_path / "prefect-home"
    project = write_project(tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(tmp_path / "out"),
                           "--until", "images"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home / early_server.LOG_NAME).is_file()
    with sqlite3.connect(home / "prefect.db") as db:  # the run was recorded in the project's Prefect home
        runs = [name for (name,) in db.execute("select name from flow_run")]
        tasks = {name for (name,) in db.execute("select name from task_run")}
        events = {name for (name,) in db.execute("select event from events")}
    assert len(runs) == 1 and runs[0].startswith("short · "), runs
    assert {"script · screenplay", "images · shot 01"} <= tasks, tasks
    # events reach the database, but no heartbeats: nothing outlives the run to watch for them
    assert "prefect.flow-run.Completed" in events and "prefect.flow-run.heartbeat" not in events, events
    with sqlite3.connect(home / "prefect.db") as db:  # the server migrated a new database and that was noted
        (revision,) = db.execute("select version_num from alembic_version").fetchone()
    assert json.loads((home / early_server.DB_NOTE).read_text())["revision"] == revision
    again = subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(tmp_path / "out"),
                            "--until", "images", "--force", "images", "--shots", "1"],
                           env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr  # on a server that skipped the migrations
    with sqlite3.connect(home / "prefect.db") as db:
        assert db.execute("select count(*) from flow_run").fetchone() == (2,)
    assert _servers_of(home) == []  # stopped with the run


def test_a_server_that_dies_is_a_runtime_failure_naming_its_log(tmp_path, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    log = tmp_path / early_server.LOG_NAME
    monkeypatch.setattr(early_server, "_started", {"process": dead, "url": "http://127.0.0.1:9", "log": log})
    with pytest.raises(RuntimeFailure, match=r"exited with code 3 \(its log: .*run-server.log\)") as info:
        early_server.wait_until_ready(timeout=30)
    assert "film ui" in info.value.hint and early_server._started == {}


def test_nothing_is_started_once_prefect_is_imported_or_a_server_is_configured(monkeypatch):
    importlib.import_module("prefect")  # imported in this test process: Prefect has read its settings already
    monkeypatch.setattr(early_server, "_started", {})  # whatever an earlier in-process run of this session started
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert early_server.start() is False and early_server._started == {}
    monkeypatch.delitem(sys.modules, "prefect")  # as in a fresh process, but with a server configured
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert early_server.start() is False and early_server._started == {}


def test_nothing_is_started_when_the_active_prefect_profile_names_a_server(monkeypatch, tmp_path):
    monkeypatch.setattr(early_server, "_started", {})
    monkeypatch.delitem(sys.modules, "prefect")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    (tmp_path / "profiles.toml").write_text('active = "team"\n[profiles.team]\n'
                                            'PREFECT_API_URL = "http://prefect.example:4200/api"\n')
    assert early_server.start() is False and early_server._started == {}
    assert "PREFECT_API_URL" not in os.environ


def _migrated_home(home: Path, package: Path, revision: str, migrations: list[str]) -> None:
    """A Prefect home whose database is at ``revision``, and a Prefect package shipping ``migrations``."""
    home.mkdir(exist_ok=True)
    with sqlite3.connect(home / "prefect.db") as db:
        db.execute("create table if not exists alembic_version (version_num varchar(32) not null)")
        db.execute("delete from alembic_version")
        db.execute("insert into alembic_version values (?)", (revision,))
    versions = package / "server" / "database" / "_migrations" / "versions" / "sqlite"
    shutil.rmtree(versions, ignore_errors=True)
    versions.mkdir(parents=True)
    for name in migrations:
        (versions / name).write_text("")


def test_the_run_server_skips_migrations_only_where_a_server_left_this_schema(tmp_path, monkeypatch):
    for name in ("PREFECT_API_DATABASE_MIGRATE_ON_START", "PREFECT_API_BLOCKS_REGISTER_ON_START",
                 "PREFECT_API_DATABASE_CONNECTION_URL"):
        monkeypatch.delenv(name, raising=False)
    home, package = tmp_path / "home", tmp_path / "prefect"
    _migrated_home(home, package, "rev2", ["0001_a.py", "0002_b.py"])

    def spared() -> dict[str, str]:
        return early_server._spared_start_work(home, package, {})

    assert spared() == {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false"}  # nothing noted yet: migrate
    early_server._write_note(*early_server._database_note(home, package))  # what a migrating server's run notes
    assert spared() == {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false", early_server.MIGRATE: "false"}
    monkeypatch.setenv(early_server.MIGRATE, "true")  # the user's setting wins
    assert early_server.MIGRATE not in spared()
    monkeypatch.delenv(early_server.MIGRATE)
    assert early_server.MIGRATE not in early_server._spared_start_work(
        home, package, {"PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://db/prefect"})
    _migrated_home(home, package, "rev2", ["0001_a.py", "0002_b.py", "0003_c.py"])  # a Prefect with a new migration
    assert early_server.MIGRATE not in spared()
    _migrated_home(home, package, "rev1", ["0001_a.py", "0002_b.py"])  # a database some other Prefect moved
    assert early_server.MIGRATE not in spared()
    (home / "prefect.db").unlink()  # no database: a server creates it
    assert early_server.MIGRATE not in spared()


def _start_make(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`film make` of the short project in its own session (as from a terminal), once its server is up."""
    home = tmp_path / "prefect-home"
    project = write_project(tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(tmp_path / "out")],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not _servers_of(home):
        assert proc.poll() is None and time.monotonic() < deadline, "film make never started its server"
        time.sleep(0.1)
    time.sleep(3)  # the flow is running now
    return proc, home


def _wait_gone(home: Path, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while _servers_of(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _servers_of(home)


@pytest.mark.slow
def test_ctrl_c_in_the_terminal_ends_the_run_promptly_and_its_server(tmp_path):
    proc, home = _start_make(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("film make hung after Ctrl-C")
    assert proc.returncode == 130 and "Traceback" not in out and "interrupted" in out, out
    assert _wait_gone(home) == []


@pytest.mark.slow
def test_a_killed_make_takes_its_server_along(tmp_path):
    proc, home = _start_make(tmp_path)
    proc.kill()  # SIGKILL: no atexit runs
    proc.communicate(timeout=30)
    assert _wait_gone(home) == []
