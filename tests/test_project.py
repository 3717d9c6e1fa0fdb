"""Project settings resolved at load time."""
from __future__ import annotations

import pytest

from pipeline.config import project as project_module
from pipeline.config.project import load_project
from pipeline.run.readiness import warm_up_backends
from tests.conftest import write_project


@pytest.mark.parametrize("line, expected", [("auto", 5), (None, 5), ("2", 2)])
def test_workers_auto_is_one_more_than_the_usable_cores(tmp_path, monkeypatch, line, expected):
    monkeypatch.setattr(project_module.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    loaded = load_project(write_project(tmp_path, workers=line))
    assert loaded.project.workers == expected


def test_warm_up_hands_the_narrator_every_voice_of_the_project_once(tmp_path, monkeypatch):
    path = write_project(tmp_path, narrator_voice="joe")
    text = path.read_text(encoding="utf-8").replace('in a green dress"', 'in a green dress"\n    voice: joe#speaker=0')
    path.write_text(text, encoding="utf-8")
    loaded = load_project(path)
    seen: dict[str, object] = {}
    for stage in ("images", "narration"):
        backend = loaded.backends[stage]
        monkeypatch.setattr(backend, "warm_up", lambda voices=(), stage=stage: seen.__setitem__(stage, list(voices)))
    warm_up_backends(loaded, ("images", "narration")).join(timeout=30)
    assert seen == {"images": [], "narration": ["joe", "joe#speaker=0"]}
