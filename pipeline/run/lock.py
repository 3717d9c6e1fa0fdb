"""One run at a time per output folder: an exclusive flock on ``<out>/.film/run.lock``.

The kernel releases the lock when its holder's process ends, however it ends (even by kill -9), so there is no
stale lock to clear. A second run waits for it, naming the run that holds it (``run.json`` beside the lock:
pid, host, command, start time), then goes on and finds the first run's work cached. The lock is held per
process: `film make` takes it, and the flow it runs in the same process finds it already held.
"""
from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from stages.files import write_json_atomic

LOCK_NAME = "run.lock"
HOLDER_NAME = "run.json"
POLL_S = 0.2

_held: dict[Path, int] = {}  # out folders whose lock this process holds, and how many blocks hold it here
_guard = threading.Lock()


@contextmanager
def out_folder_lock(out_dir: Path, on_wait: Callable[[str], None], command: str | None = None) -> Iterator[None]:
    """Hold the run lock of ``out_dir`` for the block; while another process holds it, wait, telling ``on_wait``
    who holds it. ``command``: what this run is, for a run that waits on it (default: this process's command)."""
    folder = out_dir.resolve() / ".film"
    with _guard:
        nested = folder in _held
        if nested:
            _held[folder] += 1
    if nested:  # this process holds it already (make_film running its flow)
        try:
            yield
        finally:
            _leave(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a+b") as handle:  # closing it releases the lock
        _acquire(handle.fileno(), folder, on_wait)  # a Ctrl-C while waiting leaves the holder's run.json alone
        with _guard:
            _held[folder] = 1
        try:
            write_json_atomic(folder / HOLDER_NAME, holder(command))
            yield
        finally:
            (folder / HOLDER_NAME).unlink(missing_ok=True)
            _leave(folder)


@contextmanager
def no_run_meanwhile(out_dir: Path) -> Iterator[None]:
    """Hold the run lock of ``out_dir`` for the block without waiting (for work that changes its store, such as
    `film gc`); refuse, naming the run, when a run holds it now."""
    folder = out_dir.resolve() / ".film"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a+b") as handle:  # closing it releases the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = waiting_message(out_dir, read_holder(folder)).removeprefix("waiting for ").rstrip(" …")
            raise UserError(f"{running} is working there now: its store is not changed under it",
                            "wait until that run ends, then run this again") from None
        yield


def _leave(folder: Path) -> None:
    with _guard:
        _held[folder] -= 1
        if not _held[folder]:
            del _held[folder]


def _acquire(fd: int, folder: Path, on_wait: Callable[[str], None]) -> None:
    """Take the lock, waiting (and saying for whom, again whenever the holder changes) while it is held."""
    told: Any = None
    waited = 0.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        other = read_holder(folder)
        if other != told and (other is not None or waited >= 1.0):  # the holder writes run.json just after locking
            on_wait(waiting_message(folder.parent, other))
            told = other
        time.sleep(POLL_S)
        waited += POLL_S


def holder(command: str | None = None) -> dict[str, Any]:
    """Who this process is, as ``run.json`` records it."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": command or this_command(),
            "started": time.time()}


def read_holder(folder: Path) -> dict[str, Any] | None:
    """The recorded holder of the lock in ``folder`` (an ``.film`` folder), or None when there is none."""
    try:
        found = json.loads((folder / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def this_command() -> str:
    """This process's command line, as the user typed it (`film make …` however it was started)."""
    first = Path(sys.argv[0]).name
    program = "film" if first in ("film", "__main__.py") else first
    return shlex.join([program, *sys.argv[1:]])


def waiting_message(out_dir: Path, other: dict[str, Any] | None) -> str:
    """What a run waiting for the lock of ``out_dir`` says, naming the run that holds it when known."""
    where = _shown(out_dir)
    if other is None:
        return f"waiting for another run on {where} …"
    started = float(other.get("started") or 0)
    clock = "%H:%M:%S" if time.strftime("%F") == time.strftime("%F", time.localtime(started)) else "%F %H:%M:%S"
    host = "" if other.get("host") == socket.gethostname() else f" on {other.get('host')}"
    return (f"waiting for the run on {where} (pid {other.get('pid')}{host}, {other.get('command')}, "
            f"since {time.strftime(clock, time.localtime(started))}) …")


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
