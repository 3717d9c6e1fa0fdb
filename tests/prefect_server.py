"""Helpers for the tests against a real Prefect server: make films against it and ask it things over REST.

The ``prefect_server`` fixture (tests/conftest.py) starts ``prefect server`` through ``pipeline.prefect.ui.start_server``
on a free port with a throwaway Prefect home, once per test module, and stops it at the end. Films are made in
subprocesses with PREFECT_HOME set to that home and no PREFECT_API_URL, so `film make` (and `film serve`) find the server
through its ``film-ui.json`` the way they do for a user running `film ui`.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

from pipeline.prefect.server import HOST, ServerProcess as Server

REPO = Path(__file__).resolve().parents[1]
MAKE_TIMEOUT_S = 300.0
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def film_env(server: Server, **extra: str) -> dict[str, str]:
    """The environment of a `film` subprocess that must find ``server`` by discovery (never PREFECT_API_URL)."""
    env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(server.home), PYTHONUNBUFFERED="1", **extra)
    return env


def make_film(server: Server, project: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `film make` in a subprocess against ``server``; fails the test with its output unless it succeeds."""
    command = [sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out), *args]
    done = subprocess.run(command, env=film_env(server), cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=MAKE_TIMEOUT_S)
    assert done.returncode == 0, f"film make failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def api(server: Server, path: str, body: Any = None, method: str | None = None, timeout: float = 10.0) -> Any:
    """Call the server's REST API (``path`` under /api, never through a proxy); the decoded JSON reply.

    A 503 is retried after a pause, as Prefect's own client does: its server answers so while SQLite is
    busy (say, recording the events of a run that just ended)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}/api{path}", data=data, method=method or ("GET" if data is None else "POST"),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for pause in (0.5, 1.0, 2.0, 4.0, None):
        try:
            with opener.open(request, timeout=timeout) as reply:
                text = reply.read()
            return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            if error.code != 503 or pause is None:
                raise
            time.sleep(pause)


def flow_runs(server: Server, flow_name: str = "film") -> list[dict[str, Any]]:
    """The server's runs of flow ``flow_name``, newest first."""
    return api(server, "/flow_runs/filter", {"flows": {"name": {"any_": [flow_name]}}, "sort": "START_TIME_DESC"})


def task_run_names(server: Server, flow_run_id: str) -> list[str]:
    """The names of a flow run's task runs."""
    runs = api(server, "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200})
    return sorted(run["name"] for run in runs)


def wait_for(probe: Callable[[], T], timeout: float, what: str, every: float = 0.25) -> T:
    """Call ``probe`` until it returns something truthy (which is returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
