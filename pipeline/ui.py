"""`film ui`: a local Prefect server (with its UI) that `film make` finds and reports to while it runs.

The server keeps its state in the same Prefect home `film make` uses (``<project dir>/.prefect`` unless
PREFECT_HOME is set), runs in its own process group with its output in ``ui-server.log`` there, and records
its URL and pid in ``film-ui.json`` (see ``prefect_env.running_ui``). Importing this module does not import Prefect.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline import prefect_env
from pipeline.errors import RuntimeFailure, UserError

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
LOG_NAME = "ui-server.log"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Sane local defaults for the server process; the user's own environment wins over these.
SERVER_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}


@dataclass
class Server:
    """A Prefect server process started by ``start_server``."""

    url: str
    home: Path
    log: Path
    process: subprocess.Popen
    seconds: float = 0.0

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id)."""
        return self.process.pid

    @property
    def record(self) -> Path:
        """The discovery file `film make` reads."""
        return prefect_env.ui_file(self.home)


def project_dir(target: Path | None = None) -> Path:
    """The folder of the project file ``target``, or ``target`` itself if it is a folder (default: the current one)."""
    folder = (target or Path.cwd()).expanduser()
    if not folder.exists():
        raise UserError(f"no such project file or folder: {target}", hint="give a project YAML file or its folder")
    folder = folder.resolve()
    return folder if folder.is_dir() else folder.parent


def prefect_home(target: Path | None = None) -> Path:
    """The Prefect home `film make` uses for the project file or folder ``target`` (default: the current folder);
    a PREFECT_HOME set by the user wins."""
    if os.environ.get("PREFECT_HOME"):
        return Path(os.environ["PREFECT_HOME"]).expanduser().resolve()
    return project_dir(target) / ".prefect"


def server_env(home: Path, url: str, host: str, port: int) -> dict[str, str]:
    """The server's environment: ours, sane local defaults, and its home, address and UI API URL."""
    env = dict(os.environ)
    for name, value in SERVER_DEFAULTS.items():
        env.setdefault(name, value)
    api = f"{url}/api"
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_API_HOST=host, PREFECT_SERVER_API_PORT=str(port),
               PREFECT_UI_API_URL=api, PREFECT_SERVER_UI_API_URL=api, PREFECT_API_URL=api, PYTHONUNBUFFERED="1")
    return env


def start_server(home: Path, port: int = DEFAULT_PORT, host: str = HOST, timeout: float = START_TIMEOUT_S) -> Server:
    """Start a Prefect server for ``home`` on host:port, wait until it answers, and record it for `film make`."""
    running = prefect_env.running_ui(home)
    if running is not None:
        raise UserError(f"a Prefect UI for {home} is already running at {running['url']} (pid {running['pid']})",
                        hint=f"open {running['url']}, or stop that one first (Ctrl-C in its terminal, or kill {running['pid']})")
    _check_port(host, port)
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    log = home / LOG_NAME
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    started = time.perf_counter()
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=server_env(home, url, host, port), stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(url, home, log, process)
    try:
        _wait_until_healthy(server, host, port, timeout)
        server.seconds = round(time.perf_counter() - started, 2)
        _write_record(server)
    except BaseException:  # a failed start or a Ctrl-C while waiting: leave nothing behind
        stop_server(server)
        raise
    return server


def stop_server(server: Server, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the server and every process it started (SIGTERM, then SIGKILL), and remove its discovery file."""
    with _signals_ignored():
        _signal_group(server.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(server.pid, signal.SIGKILL)
            server.process.wait()
        deadline = time.monotonic() + timeout
        while _group_alive(server.pid) and time.monotonic() < deadline:  # children that outlive the server
            time.sleep(0.05)
        if _group_alive(server.pid):
            _signal_group(server.pid, signal.SIGKILL)
        _remove_record(server)


def serve(target: Path | None = None, port: int = DEFAULT_PORT) -> None:
    """`film ui`: start the server, say where it is, keep it up until Ctrl-C (or SIGTERM/SIGHUP), then stop it."""
    from pipeline.report import console

    home = prefect_home(target)
    user_home = bool(os.environ.get("PREFECT_HOME"))
    console.print(f"starting the Prefect server on {HOST}:{port} …")
    server = None
    with _signals_as_interrupt():
        try:
            server = start_server(home, port)
            whose = f"with PREFECT_HOME={home}" if user_home else f"of projects in {home.parent}/"
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


def _watch(server: Server) -> int:
    """Wait for the server to exit; meanwhile put its discovery file back if something removed it."""
    while True:
        try:
            return server.process.wait(1.0)
        except subprocess.TimeoutExpired:
            if not server.record.exists() and prefect_env.answers(server.url):
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


def _wait_until_healthy(server: Server, host: str, port: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not prefect_env.answers(server.url, timeout=1.0):
        code = server.process.poll()
        if code is not None:
            tail = _tail(server.log)
            if "address already in use" in tail.lower():
                raise _port_in_use(port, host)
            raise RuntimeFailure(f"the Prefect server exited while starting (exit code {code}):\n{tail}",
                                 hint=f"see its log: {server.log}")
        if time.perf_counter() > deadline:
            raise RuntimeFailure(f"the Prefect server did not answer within {timeout:.0f} s",
                                 hint=f"see its log: {server.log}")
        time.sleep(0.2)


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _write_record(server: Server) -> None:
    body = {"url": server.url, "pid": server.pid, "home": str(server.home), "log": str(server.log),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    temporary = server.record.with_name(f".{server.record.name}.{os.getpid()}")
    temporary.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(temporary, server.record)


def _remove_record(server: Server) -> None:
    """Remove the discovery file if it is this server's (another `film ui` may have written its own)."""
    try:
        if json.loads(server.record.read_text(encoding="utf-8")).get("pid") != server.pid:
            return
    except (OSError, ValueError, AttributeError):
        pass
    server.record.unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C (or a SIGTERM) while stopping must not leave the server running."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop the UI the way Ctrl-C does; SIGINT too when it was
    started with SIGINT ignored (in the background of a script)."""
    if not _in_main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
