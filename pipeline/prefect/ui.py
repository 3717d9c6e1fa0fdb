"""`film ui`: a local Prefect server (with its UI) that `film make` finds and reports to while it runs.

The server keeps its state in the same Prefect home `film make` uses (the workspace's ``.prefect``, see
``prefect_env.prefect_home``), runs in its own process group with its output in ``ui-server.log`` there, and records
its URL and pid in ``film-ui.json`` (see ``prefect_env.running_ui``). Importing this module does not import Prefect.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from pipeline.errors import RuntimeFailure, UserError
from pipeline.prefect import env as prefect_env
from pipeline.prefect import retention, server_settings
from pipeline.prefect.server import HOST, ServerExited, ServerProcess, ServerSilent, launch, signals_as_interrupt
from stages.files import write_json_atomic

DEFAULT_PORT = 4200
LOG_NAME = "ui-server.log"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
# Sane local defaults for the server process; the user's own settings (environment or profile) win over these.
SERVER_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}


def record_file(server: ServerProcess) -> Path:
    """The discovery file `film make` reads to find this server."""
    return prefect_env.ui_file(server.home)


def project_dir(target: Path | None = None) -> Path:
    """The folder of the project file ``target``, or ``target`` itself if it is a folder (default: the current one)."""
    folder = (target or Path.cwd()).expanduser()
    if not folder.exists():
        raise UserError(f"no such project file or folder: {target}", hint="give a project YAML file or its folder")
    folder = folder.resolve()
    return folder if folder.is_dir() else folder.parent


def prefect_home(target: Path | None = None) -> Path:
    """The Prefect home `film make` uses for projects at the project file or folder ``target`` (default: the
    current folder): its workspace's, unless the user set PREFECT_HOME."""
    return prefect_env.prefect_home(project_dir(target)).resolve()


def server_env(home: Path, url: str, host: str, port: int) -> dict[str, str]:
    """The server's environment: ours, sane local defaults (the run retention among them), and its home, address
    and UI API URL."""
    env = dict(os.environ)
    profile = server_settings.active_profile(home)
    for name, value in (SERVER_DEFAULTS | retention.lasting_server_settings(retention.configured())).items():
        if server_settings.user_setting((name,), profile) is None:
            env[name] = value
    api = f"{url}/api"
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_API_HOST=host, PREFECT_SERVER_API_PORT=str(port),
               PREFECT_UI_API_URL=api, PREFECT_SERVER_UI_API_URL=api, PREFECT_API_URL=api, PYTHONUNBUFFERED="1")
    return env


def start_server(home: Path, port: int = DEFAULT_PORT, host: str = HOST,
                 timeout: float = START_TIMEOUT_S) -> ServerProcess:
    """Start a Prefect server for ``home`` on host:port, wait until it answers, and record it for `film make`."""
    running = prefect_env.running_ui(home)
    if running is not None:
        raise UserError(f"a Prefect UI for {home} is already running at {running['url']} (pid {running['pid']})",
                        hint=f"open {running['url']}, or stop that one first (Ctrl-C in its terminal, or kill "
                             f"{running['pid']})")
    _check_port(host, port)
    if server_settings.default_database(server_settings.active_profile(home)):  # before the server opens it
        retention.prune(home)
    url = f"http://{host}:{port}"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    server = launch(command, server_env(home, url, host, port), url, home, home / LOG_NAME)
    try:
        try:
            server.wait_until_healthy(timeout, poll_s=0.2)
        except ServerExited as exc:
            tail = server.log_tail()
            if "address already in use" in tail.lower():
                raise _port_in_use(port, host) from None
            raise RuntimeFailure(f"the Prefect server exited while starting (exit code {exc.code}):\n{tail}",
                                 hint=f"see its log: {server.log}") from None
        except ServerSilent:
            raise RuntimeFailure(f"the Prefect server did not answer within {timeout:.0f} s",
                                 hint=f"see its log: {server.log}") from None
        _write_record(server)
    except BaseException:  # a failed start or a Ctrl-C while waiting: leave nothing behind
        stop_server(server)
        raise
    return server


def stop_server(server: ServerProcess, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the server and every process it started, and remove its discovery file."""
    server.stop(timeout)
    _remove_record(server)


def serve(target: Path | None = None, port: int = DEFAULT_PORT) -> None:
    """`film ui`: start the server, say where it is, keep it up until Ctrl-C (or SIGTERM/SIGHUP), then stop it."""
    from pipeline.report import console

    home = prefect_home(target)
    whose = "with this PREFECT_HOME" if os.environ.get("PREFECT_HOME") else f"of projects under {home.parent}/"
    console.print(f"Prefect home: {home}")
    console.print(f"starting the Prefect server on {HOST}:{port} …")
    server = None
    with signals_as_interrupt():
        try:
            server = start_server(home, port)
            console.print(f"[bold green]Prefect UI[/]: {server.url}  (ready in {server.seconds:.1f} s)")
            console.print(f"`film make` runs {whose} show up there while this runs")
            console.print(f"server log: {server.log}")
            if os.environ.get("PREFECT_API_URL"):
                console.print(f"[yellow]note[/]: PREFECT_API_URL is set here ({os.environ['PREFECT_API_URL']}); "
                              "`film make` sends runs there instead wherever it is set")
            console.print("press Ctrl-C to stop")
            code = _watch(server)
        except KeyboardInterrupt:
            if server is not None:
                stop_server(server)
            console.print("stopped the Prefect server")
            return
    stop_server(server)
    raise RuntimeFailure(f"the Prefect server stopped by itself (exit code {code})", hint=f"see its log: {server.log}")


def _watch(server: ServerProcess) -> int:
    """Wait for the server to exit; meanwhile put its discovery file back if something removed it."""
    while True:
        try:
            return server.process.wait(1.0)
        except subprocess.TimeoutExpired:
            if not record_file(server).exists() and prefect_env.answers(server.url):
                _write_record(server)


def _check_port(host: str, port: int) -> None:
    problem = _bind_problem(host, port)
    if problem is not None and problem.errno == errno.EADDRINUSE:
        raise _port_in_use(port, host)
    if problem is not None:
        raise UserError(f"cannot listen on {host}:{port}: {problem.strerror}", hint="choose another port with --port")


def _bind_problem(host: str, port: int) -> OSError | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _port_in_use(port: int, host: str = HOST) -> UserError:
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if _bind_problem(host, p) is None), None)
    example = f", e.g. --port {free}" if free else ""
    return UserError(f"port {port} on {host} is already in use", hint=f"choose a free port with --port{example}")


def _write_record(server: ServerProcess) -> None:
    write_json_atomic(record_file(server), {"url": server.url, "pid": server.pid, "home": str(server.home),
                                            "log": str(server.log), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _remove_record(server: ServerProcess) -> None:
    """Remove the discovery file if it is this server's (another `film ui` may have written its own)."""
    record = record_file(server)
    try:
        if json.loads(record.read_text(encoding="utf-8")).get("pid") != server.pid:
            return
    except (OSError, ValueError, AttributeError):
        pass
    record.unlink(missing_ok=True)
