"""Prefect settings for a quiet local run; set before Prefect is first imported. The user's own settings win.

A running `film ui` leaves ``film-ui.json`` (its URL and pid) in the Prefect home; ``configure`` finds it and
sends the run there. This module never imports Prefect.
"""
from __future__ import annotations

import http.client
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",  # run logs still reach the API (and the UI)
    "PREFECT_LOGGING_SERVER_LEVEL": "ERROR",
    "PREFECT_SERVER_LOGGING_LEVEL": "ERROR",
    "PREFECT_LOGGING_INTERNAL_LEVEL": "ERROR",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}

UI_FILE = "film-ui.json"
HEALTH_TIMEOUT_S = 1.5


def configure(project_dir: Path) -> str | None:
    """Keep Prefect's state in ``<project dir>/.prefect`` and its chatter out of the terminal; send the run to a
    running `film ui` for that home unless PREFECT_API_URL is set. Returns that UI's URL, or None."""
    os.environ.setdefault("PREFECT_HOME", str(project_dir / ".prefect"))
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    if "PREFECT_API_URL" in os.environ:
        return None
    found = running_ui(Path(os.environ["PREFECT_HOME"]).expanduser())
    if found is None:
        return None
    os.environ["PREFECT_API_URL"] = found["url"] + "/api"
    return found["url"]


def ui_file(home: Path) -> Path:
    """Where a running `film ui` records its URL and pid."""
    return home / UI_FILE


def running_ui(home: Path) -> dict[str, Any] | None:
    """The `film ui` recorded in ``home`` when its process lives and its server answers; a stale record is removed."""
    path = ui_file(home)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        url, pid = str(record["url"]).rstrip("/"), int(record["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: as good as stale
        url, pid = "", 0
    if pid > 0 and pid_alive(pid) and answers(url):
        return {**record, "url": url, "pid": pid}
    path.unlink(missing_ok=True)
    return None


def answers(url: str, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether a Prefect server at ``url`` answers ``GET /api/health`` (never through a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/health", timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, ValueError, http.client.HTTPException):
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True
