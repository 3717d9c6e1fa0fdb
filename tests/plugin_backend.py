"""A backend a plugin package could register through the `film.backends` entry-point group."""
from __future__ import annotations

from pathlib import Path

from stages.backend import Backend
from stages.contracts import ImageRequest, ImageResult


class KeyedImages(Backend):
    """An image backend that needs an API key (it never gets as far as drawing in these tests)."""

    name = "keyed"
    env_keys = ("FILM_TEST_IMAGES_KEY",)

    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Refuse: the tests only check that a missing key stops the run before any work."""
        raise AssertionError("a backend without its key must never be called")


class MissingMethodImages(Backend):
    """A plugin image backend that forgot its stage's one method."""

    name = "forgetful"


class WrongArityImages(Backend):
    """A plugin image backend whose make_image takes too few parameters."""

    name = "terse"

    def make_image(self, request: ImageRequest) -> ImageResult:
        """Never called: the registry refuses the class first."""
        raise AssertionError("a backend that breaks its contract must never be called")


class NotABackend:
    """A plugin class that has the method but does not derive from Backend."""

    name = "stray"

    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Never called: the registry refuses the class first."""
        raise AssertionError("a class that is not a Backend must never be called")
