"""Project settings resolved at load time."""
from __future__ import annotations

import pytest

from pipeline import project as project_module
from pipeline.project import load_project
from tests.conftest import write_project


@pytest.mark.parametrize("line, expected", [("auto", 5), (None, 5), ("2", 2)])
def test_workers_auto_is_one_more_than_the_usable_cores(tmp_path, monkeypatch, line, expected):
    monkeypatch.setattr(project_module.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    loaded = load_project(write_project(tmp_path, workers=line))
    assert loaded.project.workers == expected
