"""Prefect settings for a quiet local run; set before Prefect is first imported. The user's own settings win.

Runs are recorded in one Prefect home per workspace: ``<workspace>/.prefect``, where the workspace is the
nearest folder, from the project file's folder (`film make`) or the current folder (`film ui`, `film serve`)
upwards, that holds a ``.film-workspace`` marker, a ``pyproject.toml`` or a ``.git``; with none of them above,
the starting folder itself. A PREFECT_HOME set by the user wins. A running `film ui` leaves ``film-ui.json``
(its URL and pid) in that home; ``configure`` finds it and sends the run there. This module never imports Prefect.
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
WORKSPACE_MARKERS = (".film-workspace", "pyproject.toml", ".git")  # any of them makes a folder a workspace
HOME_NAME = ".prefect"


def workspace(start: Path) -> Path:
    """The nearest folder from ``start`` upwards holding a workspace marker; ``start`` itself when none does."""
    start = start.expanduser().resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in WORKSPACE_MARKERS):
            return folder
    return start


def prefect_home(start: Path) -> Path:
    """Where runs started from folder ``start`` are recorded: PREFECT_HOME when the user set it, else
    ``<workspace>/.prefect``."""
    if os.environ.get("PREFECT_HOME"):
        return Path(os.environ["PREFECT_HOME"]).expanduser()
    return workspace(start) / HOME_NAME


def configure(start: Path) -> str | None:
    """Keep Prefect's state in the workspace's home (see ``prefect_home``; ``start`` is the project file's folder)
    and its chatter out of the terminal; send the run to a running `film ui` for that home unless
    PREFECT_API_URL is set. Returns that UI's URL, or None."""
    os.environ["PREFECT_HOME"] = str(prefect_home(start))
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    if "PREFECT_API_URL" in os.environ:
        return None
    found = running_ui(Path(os.environ["PREFECT_HOME"]).expanduser())
    if found is None:
        return None
    os.environ["PREFECT_API_URL"] = found["url"] + "/api"
    return found["url"]


def where_recorded(ui_url: str | None) -> str:
    """One line saying where a configured run is recorded: the `film ui` it reports to, the server the user set,
    or the Prefect home."""
    if ui_url:
        return f"this run shows in the Prefect UI at {ui_url}"
    if os.environ.get("PREFECT_API_URL"):
        return f"this run reports to the Prefect API at {os.environ['PREFECT_API_URL']}"
    return f"this run is recorded in {os.environ.get('PREFECT_HOME')} (`film ui` shows it)"


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
