"""The public entry point: ``pipeline.make_film`` makes what `film make` makes and returns a typed summary."""
from __future__ import annotations

import json

import pytest

import pipeline
from tests.conftest import write_project


def test_make_film_until_images_then_a_no_op(tmp_path, monkeypatch):
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    summary = pipeline.make_film(project, out, until="images")
    assert isinstance(summary, pipeline.RunSummary)
    assert summary.film_seconds is None and not summary.film_made
    assert summary.computed > 1 and summary.cached == 0
    assert set(summary.outputs) == {"screenplay", "contact_sheet"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"]["computed"] == summary.computed
    assert manifest["summary"]["wall_seconds"] == summary.wall_seconds  # the whole call's time, as the CLI prints

    from pipeline.prefect import flow

    monkeypatch.setattr(flow, "run_flow", lambda *a, **k: pytest.fail("a no-op started the flow"))
    again = pipeline.make_film(project, out, until="images")
    assert again.computed == 0 and again.cached == summary.computed


def test_make_film_refuses_an_unknown_runner(tmp_path):
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="unknown task runner"):
        pipeline.make_film(write_project(tmp_path / "proj"), tmp_path / "out", runner="slurm")


def test_the_package_names_only_its_api():
    with pytest.raises(AttributeError):
        pipeline.run_the_film  # noqa: B018 - the attribute access is the test
