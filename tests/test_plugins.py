"""Plugins register backends through the `film.backends` entry points; a missing key stops a run up front."""
from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import stages.registry
from tests.conftest import write_project


@pytest.fixture
def plugin(monkeypatch):
    point = EntryPoint(name="images.keyed", value="tests.plugin_backend:KeyedImages", group="film.backends")
    monkeypatch.setattr(stages.registry, "entry_points", lambda group: [point] if group == "film.backends" else [])
    monkeypatch.delenv("FILM_TEST_IMAGES_KEY", raising=False)


def test_plugin_is_listed_with_its_missing_key(cli, plugin):
    code, out = cli("backends")
    flat = " ".join(out.split())
    assert code == 0 and "keyed" in flat and "FILM_TEST_IMAGES_KEY" in flat


def test_missing_key_fails_check_and_make_before_any_work(cli, plugin, tmp_path, monkeypatch):
    project = write_project(tmp_path / "proj", extra="stages:\n  images: {backend: keyed}\n")
    out = tmp_path / "out"
    for command in ("check", "make"):
        code, text = cli(command, project, "--out", out)
        flat = " ".join(text.split())
        assert code == 2 and "FILM_TEST_IMAGES_KEY" in flat and "stages.images.backend" in flat, text
    assert not (out / "screenplay.yaml").exists()
    monkeypatch.setenv("FILM_TEST_IMAGES_KEY", "secret-value")
    code, text = cli("check", project, "--out", out)
    assert code == 0 and "secret-value" not in text


def test_builtin_names_cannot_be_shadowed(monkeypatch):
    point = EntryPoint(name="images.storyboard", value="tests.plugin_backend:KeyedImages", group="film.backends")
    monkeypatch.setattr(stages.registry, "entry_points", lambda group: [point])
    assert stages.registry.backend_class("images", "storyboard").name == "storyboard"
