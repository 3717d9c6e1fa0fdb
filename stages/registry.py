"""The one table of backends per stage, plus plugins from the ``film.backends`` entry-point group.

A plugin registers ``<stage>.<name> = "package.module:Class"`` under ``film.backends``.
Modules are imported only when a backend is asked for, so listing stays cheap.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from stages.backend import Backend

STAGES = ("script", "images", "animation", "narration", "stitch")

BUILTIN: dict[str, dict[str, str]] = {
    "script": {
        "rules": "stages.script.rules:RulesScriptWriter",
        "anthropic": "stages.script.anthropic:AnthropicScriptWriter",
    },
    "images": {
        "storyboard": "stages.images.storyboard:StoryboardImages",
        "ideogram": "stages.images.ideogram:IdeogramImages",
        "fal": "stages.images.fal:FalImages",
    },
    "animation": {
        "kenburns": "stages.animation.kenburns:KenBurnsAnimator",
        "luma": "stages.animation.luma:LumaAnimator",
        "fal": "stages.animation.fal:FalAnimator",
    },
    "narration": {
        "piper": "stages.narration.piper:PiperNarrator",
        "espeak": "stages.narration.espeak:EspeakNarrator",
        "elevenlabs": "stages.narration.elevenlabs:ElevenLabsNarrator",
    },
    "stitch": {"moviepy": "stages.stitch.moviepy_stitch:MoviepyStitcher"},
}


class UnknownBackend(LookupError):
    """A project named a backend nobody registered."""

    def __init__(self, stage: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {stage} backend '{name}'; known: {', '.join(known) or 'none'}")
        self.stage, self.name, self.known = stage, name, known


def _plugin_table() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for ep in entry_points(group="film.backends"):
        stage, _, name = ep.name.partition(".")
        if stage in STAGES and name:
            table.setdefault(stage, {})[name] = ep.value
    return table


def table() -> dict[str, dict[str, str]]:
    """Every backend by stage: built-ins first, then plugins (a plugin cannot shadow a built-in)."""
    merged = {stage: dict(BUILTIN[stage]) for stage in STAGES}
    for stage, entries in _plugin_table().items():
        for name, target in entries.items():
            merged[stage].setdefault(name, target)
    return merged


def backend_class(stage: str, name: str) -> type[Backend]:
    """Import and return the class registered for ``stage``/``name``."""
    entries = table().get(stage, {})
    if name not in entries:
        raise UnknownBackend(stage, name, sorted(entries))
    module_name, _, attr = entries[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)
