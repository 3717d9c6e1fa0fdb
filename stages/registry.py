"""The one table of backends per stage, plus plugins from the ``film.backends`` entry-point group.

A plugin registers ``<stage>.<name> = "package.module:Class"`` under ``film.backends``.
Modules are imported only when a backend is asked for, so listing stays cheap; a class is checked against its
stage's contract as it loads, so a broken plugin is named before a run rather than when a shot first calls it.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from stages.backend import Backend
from stages.conformance import contract_problem

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

    hint = "use one of the known backends (film backends lists them)"

    def __init__(self, stage: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {stage} backend '{name}'; known: {', '.join(known) or 'none'}")
        self.stage, self.name, self.known = stage, name, known


class BrokenBackend(UnknownBackend):
    """A registered backend that cannot be used: its module fails to import or its class breaks the contract."""

    def __init__(self, stage: str, name: str, target: str, problem: str) -> None:
        builtin = BUILTIN.get(stage, {}).get(name) == target
        self.hint = ("reinstall film (pip install -e .); if it persists, it is a bug in film" if builtin else
                     f"fix or uninstall the plugin that registers it (entry point {stage}.{name} in the group "
                     "film.backends)")
        LookupError.__init__(self, f"the {'built-in' if builtin else 'plugin'} backend '{name}' ({target}) for {stage} "
                                   f"{problem}")
        self.stage, self.name, self.known, self.target = stage, name, [], target


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
    """Import the class registered for ``stage``/``name`` and return it once it keeps the stage's contract
    (UnknownBackend when nothing is registered under the name, BrokenBackend when it cannot be used)."""
    entries = table().get(stage, {})
    if name not in entries:
        raise UnknownBackend(stage, name, sorted(entries))
    target = entries[name]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - whatever stops the import is reported as the cause
        raise BrokenBackend(stage, name, target, f"cannot be imported: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, attr):
        raise BrokenBackend(stage, name, target, f"names no class: module {module_name} has no attribute '{attr}'")
    cls = getattr(module, attr)
    problem = contract_problem(stage, cls)
    if problem:
        raise BrokenBackend(stage, name, target, problem)
    return cls
