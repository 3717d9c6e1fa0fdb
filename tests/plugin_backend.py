"""A backend a plugin package could register through the `film.backends` entry-point group."""
from __future__ import annotations

from pathlib import Path

from stages.backend import Backend
from stages.contracts import ImageRequest, ImageResult, Scene, Screenplay, ScriptRequest, Shot


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


class RefusedShotWriter(Backend):
    """A plugin screenwriter with the rules writer's old bug: it builds a Shot whose narration has no word."""

    name = "refused"

    def write(self, request: ScriptRequest) -> Screenplay:
        """Build the screenplay through the contracts: the model refuses the shot as it is made."""
        shot = Shot(shot=1, narration="* * * * *", image_prompt="a row of asterisks")
        return Screenplay(title=request.title, scenes=(Scene(scene=1, shots=(shot,)),))


class UncheckedShotWriter(Backend):
    """A plugin screenwriter that skips validation and hands over a screenplay whose second shot has no words."""

    name = "unchecked"

    def write(self, request: ScriptRequest) -> Screenplay:
        """Build the screenplay with model_construct, which checks nothing."""
        good = Shot(shot=1, narration="The rain had stopped.", image_prompt="a wet lane")
        bad = Shot.model_construct(**(good.model_dump() | {"shot": 2, "narration": "'"}))
        return Screenplay(title=request.title, scenes=(Scene.model_construct(scene=1, setting="", mood="calm",
                                                                             shots=(good, bad)),))
