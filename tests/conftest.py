"""Shared fixtures: a short story, a small project file around it, and an in-process CLI runner."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect state of the test session lives in a throwaway folder, set before Prefect is imported.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="film-prefect-"))

STORY = """\
Chapter 1


The rain had stopped by the time Mr. Hale reached the old mill on the hill.

"You are late again," said his sister, opening the door before he could knock.

"The road was flooded," he replied. "I walked the long way round by the church."

She laughed and took his wet coat. The kitchen was warm and smelled of bread.

Chapter 2


Morning came bright and cold over the village.
"""

CHARACTERS = """\
characters:
  - name: Mr. Hale
    aliases: [Mr. Hale, he]
    description: "a tall young man in a grey coat"
  - name: Ann Hale
    aliases: [his sister, she]
    description: "a cheerful woman in a green dress"
"""


def write_project(folder: Path, extra: str = "", **fields: str) -> Path:
    """A small, fast project (320x180 at 12 fps) around the short story; ``fields`` override top-level lines."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "story.txt").write_text(STORY, encoding="utf-8")
    lines = {
        "name": "short",
        "title": '"The Mill"',
        "source": "{path: story.txt, chapter: 1}",
        "style": '"ink and wash"',
        "seed": "7",
        "format": "{width: 320, height: 180, fps: 12}",
        "finish": "{subtitles: true, crossfade: 0.3, loudness_lufs: -16}",
    }
    lines.update(fields)
    body = "".join(f"{k}: {v}\n" for k, v in lines.items() if v is not None)
    path = folder / "project.yaml"
    path.write_text(body + CHARACTERS + extra, encoding="utf-8")
    return path


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    """Path to a fresh small project file in a temp folder."""
    return write_project(tmp_path / "proj")


def run_cli(*args: object) -> tuple[int, str]:
    """Run `film ...` in-process; returns (exit code, combined output). For fixtures wider than one test."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def own_environ():
    """Give back os.environ as it was (configure() writes PREFECT_* variables into it)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def cli():
    """Run `film ...` in-process; returns (exit code, combined output)."""
    return run_cli


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """A running Prefect server (with its UI) whose home is a fresh temp folder; stopped after the module."""
    from pipeline.errors import UserError
    from pipeline.prefect.ui import start_server, stop_server
    from tests.prefect_server import free_port

    home = tmp_path_factory.mktemp("prefect-home")
    for attempt in range(3):  # another process may take the free port between the probe and the bind
        try:
            server = start_server(home, free_port())
            break
        except UserError:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        stop_server(server)
