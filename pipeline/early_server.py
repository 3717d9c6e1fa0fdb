"""Prefect's ephemeral API server, started by `film make` itself, early and in the background.

Without a configured server, Prefect starts a temporary one (uvicorn serving ``create_app``) the first time
the flow needs its API, and the run waits for it: a few seconds of one core at the start of every run with
work. Started here as soon as `film make` knows it has work, the same server comes up while we import
Prefect and set up the flow. Prefect then finds it through PREFECT_API_URL, which is why this only happens
before Prefect is imported in this process. Unlike Prefect's own, it runs in its own session, so a Ctrl-C
interrupts the run but not the server the run still reports its end to; it is stopped when the process
exits, and on Linux also when the process is killed.
This module never imports Prefect.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from pipeline import prefect_env
from pipeline.errors import RuntimeFailure

HOST = "127.0.0.1"
LOG_NAME = "run-server.log"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_started: dict[str, object] = {}  # "process", "url", "log" of this process's server


def start() -> bool:
    """Start the server in the background and point PREFECT_API_URL at it; False (nothing started) when a
    server is configured, Prefect is already imported here, or one was started before."""
    if _started or os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return False
    spec = importlib.util.find_spec("prefect")
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    if spec is None or not spec.submodule_search_locations or _profile_names_a_server(home):
        return False
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.submodule_search_locations[0]).parent),
               "--factory", "prefect.server.api.server:create_app", "--host", HOST, "--port", str(port),
               "--log-level", "error", "--lifespan", "on"]
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    log = home / LOG_NAME
    with open(log, "wb") as sink:  # its own session: a Ctrl-C stops the run, which then still reports to it
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    url = f"http://{HOST}:{port}"
    _started.update(process=process, url=url, log=log)
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


def _profile_names_a_server(home: Path) -> bool:
    """Whether the active Prefect profile sets PREFECT_API_URL (then Prefect uses that server, not ours)."""
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


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
