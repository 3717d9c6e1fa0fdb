"""Prefect's ephemeral API server, started by `film make` itself, early and in the background.

Without a configured server, Prefect starts a temporary one (uvicorn serving ``create_app``) the first time
the flow needs its API, and the run waits for it: a few seconds of one core at the start of every run with
work. Started here as soon as `film make` knows it has work, the same server comes up while we import
Prefect and set up the flow. Prefect then finds it through PREFECT_API_URL, which is why this only happens
before Prefect is imported in this process. Unlike Prefect's own, it runs in its own session, so a Ctrl-C
interrupts the run but not the server the run still reports its end to; it is stopped when the process
exits, and on Linux also when the process is killed. It skips start-up work a run does not need
(``server_settings``). Before it starts, run history past the retention is pruned from its database
(``retention``; milliseconds when there is little to prune).
This module never imports Prefect.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import RuntimeFailure
from pipeline.prefect import retention, server_settings
from pipeline.prefect.server import HOST, ServerExited, ServerProcess, ServerSilent, launch

LOG_NAME = "run-server.log"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0

_started: dict[str, Any] = {}  # "server" (a ServerProcess) of this process; "migrated": where to note its migration


def start() -> bool:
    """Start the server in the background and point PREFECT_API_URL at it; False (nothing started) when a
    server is configured, Prefect is already imported here, or one was started before."""
    if _started or os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return False
    spec = importlib.util.find_spec("prefect")
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    if spec is None or not spec.submodule_search_locations:
        return False
    profile = server_settings.active_profile(home)
    if profile.get("PREFECT_API_URL"):  # Prefect uses that server, not ours
        return False
    home.mkdir(parents=True, exist_ok=True)
    if server_settings.default_database(profile):  # before our server opens it
        retention.prune(home)
    package = Path(spec.submodule_search_locations[0])
    spare = server_settings.spared_start_work(home, package, profile)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(package.parent),
               "--factory", "prefect.server.api.server:create_app", "--host", HOST, "--port", str(port),
               "--log-level", "error", "--lifespan", "on"]
    env = {**os.environ, **spare, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
           "PREFECT__SERVER_FINAL": "1"}
    url = f"http://{HOST}:{port}"
    # its own session: a Ctrl-C stops the run, which then still reports to it
    server = launch(command, env, url, home, home / LOG_NAME, die_with_parent=True)
    migrated = (home, package) if server_settings.migrates(spare, profile) else None
    _started.update(server=server, migrated=migrated)
    os.environ["PREFECT_API_URL"] = f"{url}/api"
    atexit.register(stop)
    return True


def skips_heartbeats() -> bool:
    """Whether the run may go without heartbeats: it reports to the server this process started, which ends with
    the run, so nothing would watch for them, and the user set no heartbeat frequency."""
    server = _started.get("server")
    return isinstance(server, ServerProcess) and server_settings.heartbeats_unset(server.home)


def wait_until_ready(timeout: float = START_TIMEOUT_S) -> None:
    """Return once the started server answers (at once when none was started); fail naming its log otherwise."""
    server = _started.get("server")
    if not isinstance(server, ServerProcess):
        return
    try:
        server.wait_until_healthy(timeout)
    except (ServerExited, ServerSilent) as exc:
        stop()
        raise RuntimeFailure(f"the local Prefect server for this run {exc} (its log: {server.log})",
                             "run again; if it keeps failing, look at that log, or start `film ui` and run "
                             "against it") from None
    migrated = _started.get("migrated")
    if migrated is not None:  # it migrated the database at its start: note the revision it left
        server_settings.write_note(*server_settings.database_note(*migrated))


def stop() -> None:
    """Stop the started server and forget it."""
    server = _started.pop("server", None)
    _started.clear()
    if isinstance(server, ServerProcess) and server.process.poll() is None:
        server.stop(STOP_TIMEOUT_S)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
