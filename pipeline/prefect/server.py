"""One way to run a Prefect API server as a child process: start it in its own session, wait until it answers,
stop it with everything it started. `film ui` (``ui.py``) and the run's own server (``early_server.py``) both
use it. This module never imports Prefect.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.prefect import env as prefect_env

HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerExited(Exception):
    """The server's process ended before it answered."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exited with code {code}")
        self.code = code


class ServerSilent(Exception):
    """The server did not answer in time."""


@dataclass
class ServerProcess:
    """A Prefect server process: its URL, home, log and process (its own process group)."""

    url: str
    home: Path
    log: Path
    process: subprocess.Popen
    seconds: float = 0.0  # how long it took to answer

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id)."""
        return self.process.pid

    def wait_until_healthy(self, timeout: float, poll_s: float = 0.05) -> None:
        """Return once the server answers ``GET /api/health``; raise ServerExited or ServerSilent otherwise."""
        started = time.perf_counter()
        while not prefect_env.answers(self.url, timeout=1.0):
            code = self.process.poll()
            if code is not None:
                raise ServerExited(code)
            if time.perf_counter() - started > timeout:
                raise ServerSilent(f"did not answer in {timeout:.0f} s")
            time.sleep(poll_s)
        self.seconds = round(time.perf_counter() - started, 2)

    def stop(self, timeout: float) -> None:
        """Stop the server and every process it started (SIGTERM, then SIGKILL), even through a second Ctrl-C."""
        with signals_ignored():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait()
            deadline = time.monotonic() + timeout
            while _group_alive(self.pid) and time.monotonic() < deadline:  # children that outlive the server
                time.sleep(0.05)
            if _group_alive(self.pid):
                _signal_group(self.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


def launch(command: Sequence[str], env: Mapping[str, str], url: str, home: Path, log: Path,
           die_with_parent: bool = False) -> ServerProcess:
    """Start a server process in its own session (a Ctrl-C meant for film does not reach it), its output in
    ``log``; with ``die_with_parent`` it gets SIGTERM when this process dies, even by SIGKILL (Linux)."""
    home.mkdir(parents=True, exist_ok=True)
    preexec: Callable[[], None] | None = _die_with_parent if die_with_parent else None
    with open(log, "wb") as sink:
        process = subprocess.Popen(list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec)
    return ServerProcess(url, home, log, process)


def _die_with_parent() -> None:
    """In the server's process, before it runs: on Linux, get SIGTERM when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's own stop covers every normal exit
        pass


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
def signals_ignored() -> Iterator[None]:
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
def signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop a foreground server the way Ctrl-C does; SIGINT too when it
    was started with SIGINT ignored (in the background of a script)."""
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
