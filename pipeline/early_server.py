"""Prefect's ephemeral API server, started by `film make` itself, early and in the background.

Without a configured server, Prefect starts a temporary one (uvicorn serving ``create_app``) the first time
the flow needs its API, and the run waits for it: a few seconds of one core at the start of every run with
work. Started here as soon as `film make` knows it has work, the same server comes up while we import
Prefect and set up the flow. Prefect then finds it through PREFECT_API_URL, which is why this only happens
before Prefect is imported in this process. Unlike Prefect's own, it runs in its own session, so a Ctrl-C
interrupts the run but not the server the run still reports its end to; it is stopped when the process
exits, and on Linux also when the process is killed. It skips start-up work a run does not need (block types;
migrations, once a server brought the database to this Prefect's schema, as ``film-db.json`` notes).
This module never imports Prefect.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from pipeline import prefect_env
from pipeline.errors import RuntimeFailure

HOST = "127.0.0.1"
LOG_NAME = "run-server.log"
DB_NOTE = "film-db.json"  # the schema revision a server brought this home's database to, and from which migrations
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h

MIGRATE = "PREFECT_API_DATABASE_MIGRATE_ON_START"

_started: dict[str, object] = {}  # "process", "url", "log" of this process's server; "migrated": what to note


def start() -> bool:
    """Start the server in the background and point PREFECT_API_URL at it; False (nothing started) when a
    server is configured, Prefect is already imported here, or one was started before."""
    if _started or os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return False
    spec = importlib.util.find_spec("prefect")
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    if spec is None or not spec.submodule_search_locations:
        return False
    profile = _active_profile(home)
    if profile.get("PREFECT_API_URL"):  # Prefect uses that server, not ours
        return False
    home.mkdir(parents=True, exist_ok=True)
    package = Path(spec.submodule_search_locations[0])
    spare = _spared_start_work(home, package, profile)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(package.parent),
               "--factory", "prefect.server.api.server:create_app", "--host", HOST, "--port", str(port),
               "--log-level", "error", "--lifespan", "on"]
    env = {**os.environ, **spare, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
           "PREFECT__SERVER_FINAL": "1"}
    log = home / LOG_NAME
    with open(log, "wb") as sink:  # its own session: a Ctrl-C stops the run, which then still reports to it
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    url = f"http://{HOST}:{port}"
    said = str(env.get(MIGRATE, profile.get(MIGRATE, "true"))).strip().lower()
    migrates = said not in ("0", "false", "f", "no", "n", "off") and not _names_a_database(profile)
    _started.update(process=process, url=url, log=log, migrated=(home, package) if migrates else None)
    os.environ["PREFECT_API_URL"] = f"{url}/api"
    atexit.register(stop)
    return True


def owned() -> bool:
    """Whether this process started the server its run reports to (a server that ends with the run)."""
    return "process" in _started


def wait_until_ready(timeout: float = START_TIMEOUT_S) -> None:
    """Return once the started server answers (at once when none was started); fail naming its log otherwise."""
    if not _started:
        return
    process, url, log = _started["process"], _started["url"], _started["log"]
    deadline = time.monotonic() + timeout
    while not prefect_env.answers(url, timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            why = f"exited with code {process.returncode}" if process.poll() is not None else f"did not answer in {timeout:.0f} s"
            stop()
            raise RuntimeFailure(f"the local Prefect server for this run {why} (its log: {log})",
                                 "run again; if it keeps failing, look at that log, or start `film ui` and run against it")
        time.sleep(0.05)
    if _started["migrated"] is not None:  # it migrated the database at its start: note the revision it left
        _write_note(*_database_note(*_started["migrated"]))


def stop() -> None:
    """Stop the started server (SIGTERM, then SIGKILL) and forget it."""
    process = _started.pop("process", None)
    _started.clear()
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _active_profile(home: Path) -> dict[str, object]:
    """The settings of the active Prefect profile (empty when there is no readable profiles file)."""
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return dict(profiles.get("profiles", {}).get(active, {}))


def _spared_start_work(home: Path, package: Path, profile: dict[str, object]) -> dict[str, str]:
    """Settings that spare the run's server start-up work it does not need, unless the user set them: registering
    block types (film's flow uses none; `film ui`'s server registers them) and migrating a database that a server
    already brought to the schema of this Prefect's migrations (~0.25 s each, before the run can begin)."""
    spare = {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false"}
    if not _names_a_database(profile) and _read_note(home) == _database_note(home, package):
        spare[MIGRATE] = "false"
    return {name: value for name, value in spare.items() if name not in os.environ and name not in profile}


def _names_a_database(profile: dict[str, object]) -> bool:
    """Whether the user chose a database other than Prefect's default SQLite file in its home."""
    name = "PREFECT_API_DATABASE_CONNECTION_URL"
    return bool(os.environ.get(name) or profile.get(name))


def _database_note(home: Path, package: Path) -> tuple[Path, dict[str, str]]:
    """Where the database note goes and what it says now: the revision of ``home``'s database (None when it has
    none) and a digest of the migrations this Prefect ships (None when they cannot be listed)."""
    try:
        names = sorted(os.listdir(package / "server" / "database" / "_migrations" / "versions" / "sqlite"))
        migrations = hashlib.sha256("\n".join(names).encode()).hexdigest()
    except OSError:
        migrations = None
    try:
        with sqlite3.connect(f"{(home / 'prefect.db').as_uri()}?mode=ro", uri=True) as db:
            revision = db.execute("select version_num from alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError, ValueError):  # no database yet, or no revision in it
        revision = None
    return home / DB_NOTE, {"revision": revision, "migrations": migrations}


def _read_note(home: Path) -> tuple[Path, dict[str, str]] | None:
    """The database note last written in ``home``, when it records a revision and the migrations that made it."""
    try:
        note = json.loads((home / DB_NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or None in (note.get("revision"), note.get("migrations")):
        return None
    return home / DB_NOTE, note


def _write_note(path: Path, note: dict[str, str]) -> None:
    """Write the database note (atomically), or remove a stale one when the database shows no revision."""
    if None in note.values():
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps(note), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:  # only a saving for later runs: they migrate again
        temporary.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """In the server's process, before it runs: on Linux, get SIGTERM when `film make` dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the atexit stop still covers every normal exit
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
