"""Prefect settings for a quiet local run; set before Prefect is first imported. The user's own settings win."""
from __future__ import annotations

import os
from pathlib import Path

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",  # run logs still reach the API (and the UI)
    "PREFECT_LOGGING_SERVER_LEVEL": "ERROR",
    "PREFECT_SERVER_LOGGING_LEVEL": "ERROR",
    "PREFECT_LOGGING_INTERNAL_LEVEL": "ERROR",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}


def configure(project_dir: Path) -> None:
    """Keep Prefect's state in ``<project dir>/.prefect`` and its chatter out of the terminal."""
    os.environ.setdefault("PREFECT_HOME", str(project_dir / ".prefect"))
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
