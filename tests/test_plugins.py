"""Plugins register backends through the `film.backends` entry points; a missing key stops a run up front, and
a plugin that breaks its stage's contract (or fails to import) is named when it loads, not when a shot calls it."""
from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import stages.registry
from tests.conftest import write_project


def register(monkeypatch, targets: dict[str, str]) -> None:
    """Make the film.backends entry points exactly ``targets``, as "<stage>.<name>" -> "module:Class"."""
    points = [EntryPoint(name=name, value=value, group="film.backends") for name, value in targets.items()]
    monkeypatch.setattr(stages.registry, "entry_points", lambda group: points if group == "film.backends" else [])


@pytest.fixture
def plugin(monkeypatch):
    register(monkeypatch, {"images.keyed": "tests.plugin_backend:KeyedImages"})
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
    register(monkeypatch, {"images.storyboard": "tests.plugin_backend:KeyedImages"})
    assert stages.registry.backend_class("images", "storyboard").name == "storyboard"


BROKEN = {
    "tests.plugin_backend:MissingMethodImages": "has no make_image(request, out_path) method",
    "tests.plugin_backend:WrongArityImages": "cannot be called as make_image(request, out_path)",
    "tests.plugin_backend:NotABackend": "is not a class deriving from stages.backend.Backend",
    "tests.plugin_broken_import:Images": "cannot be imported: ModuleNotFoundError",
    "tests.plugin_backend:NoSuchClass": "module tests.plugin_backend has no attribute 'NoSuchClass'",
}


@pytest.mark.parametrize("target", BROKEN)
def test_broken_plugin_fails_check_naming_what_is_wrong_and_the_fix(cli, monkeypatch, tmp_path, target):
    register(monkeypatch, {"images.mine": target})
    project = write_project(tmp_path / "proj", extra="stages:\n  images: {backend: mine}\n")
    code, text = cli("check", project, "--out", tmp_path / "out")
    flat = " ".join(text.split())
    assert code == 2, text
    for part in ("stages.images.backend", f"the plugin backend 'mine' ({target}) for images", BROKEN[target],
                 "fix or uninstall the plugin"):
        assert part in flat, (part, text)
    assert "Traceback" not in text


def test_broken_plugin_is_listed_without_hiding_the_others(cli, monkeypatch):
    register(monkeypatch, {"images.forgetful": "tests.plugin_backend:MissingMethodImages",
              "images.keyed": "tests.plugin_backend:KeyedImages"})
    monkeypatch.setenv("COLUMNS", "400")  # the table's cells unwrapped, so the message reads as one line
    code, out = cli("backends")
    flat = " ".join(out.split())
    assert code == 0 and "has no make_image(request, out_path) method" in flat
    assert "keyed" in flat and "storyboard" in flat


def test_every_builtin_keeps_its_contract():
    for stage, entries in stages.registry.BUILTIN.items():
        for name in entries:
            assert stages.registry.backend_class(stage, name).name == name


def test_a_method_that_takes_the_contracts_arguments_any_way_passes():
    from stages.backend import Backend
    from stages.conformance import contract_problem

    class Loose(Backend):
        name = "loose"

        def make_image(self, *args, **kwargs):
            """Takes anything."""

    class Extra(Backend):
        name = "extra"

        def make_image(self, request, out_path, quality=1):
            """An optional parameter of its own."""

    class KeywordOnly(Backend):
        name = "keyword"

        def make_image(self, request, out_path, *, quality):
            """A required keyword the pipeline never passes."""

    assert contract_problem("images", Loose) is None and contract_problem("images", Extra) is None
    assert "make_image(self, request, out_path, quality)" in contract_problem("images", KeywordOnly)
    assert "has no narrate(request, out_path) method" in contract_problem("narration", Loose)
