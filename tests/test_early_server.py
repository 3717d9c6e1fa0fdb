"""`film make` in a fresh process starts Prefect's ephemeral server itself, early, and stops it at exit."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.prefect import early_server
from pipeline.prefect import server_settings
from pipeline.errors import RuntimeFailure
from pipeline.prefect.server import ServerProcess
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
    assert json.loads((home / server_settings.DB_NOTE).read_text())["revision"] == revision
    package = Path(importlib.util.find_spec("prefect").submodule_search_locations[0])
    clean = {k: v for k, v in env.items() if not k.startswith(server_settings.MIGRATE + server_settings.BLOCKS)}
    with pytest.MonkeyPatch.context() as patch:  # what the next run's server is told, from this very database
        patch.setattr(os, "environ", clean)
        patch.chdir(REPO)  # where the runs above ran
        assert server_settings.spared_start_work(home, package, {}) == {
            server_settings.BLOCKS[0]: "false", server_settings.MIGRATE[0]: "false"}
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
    monkeypatch.setattr(early_server, "_started", {"server": ServerProcess("http://127.0.0.1:9", tmp_path, log, dead)})
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


def _start_make(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`film make` of the short project in its own session (as from a terminal), once its server is up."""
    home = tmp_path / "prefect-home"
    project = write_project(tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(tmp_path / "out")],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    # the flow writes the screenplay: from then on Prefect is imported and the run is under way (a signal during
    # imports may be swallowed by a library's bare except, so a fixed wait made these tests flaky on a slow machine)
    while not (_servers_of(home) and (tmp_path / "out" / "screenplay.yaml").is_file()):
        assert proc.poll() is None and time.monotonic() < deadline, "film make never got its flow going"
        time.sleep(0.05)
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
