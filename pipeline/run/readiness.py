"""Before a run: whether the project's chosen backends can run here (packages, keys, GPU, voices), and their
imports and voice loads done ahead of the first job."""
from __future__ import annotations

import threading

from pipeline.config.project import PROJECT_HINT, LoadedProject
from pipeline.errors import UserError
from stages.errors import InputError
from stages.registry import STAGES


def check_backends_can_run(loaded: LoadedProject, stages: tuple[str, ...] = STAGES) -> None:
    """Fail before any work when a chosen backend lacks a package, a key or a GPU (all of them named at once)."""
    found = []
    for stage in stages:
        backend = loaded.backends[stage]
        problems = backend.problems_with_options()
        if problems:
            where = loaded.document.where(("stages", stage, "backend"))
            found.append(f"{where}: stages.{stage}.backend: '{backend.name}' cannot run here: {'; '.join(problems)}")
    if found:
        raise UserError("\n".join(found), "set the missing keys in your environment, install the missing packages "
                        "(pip install -e \".[cloud]\" for the cloud backends), or pick other backends")
    if "narration" in stages:
        _check_voices(loaded)


def _check_voices(loaded: LoadedProject) -> None:
    """Fail before any work when the narrator cannot speak with the project's or a character's voice."""
    project, narrator = loaded.project, loaded.backends["narration"]
    places: list[tuple[tuple[str | int, ...], str | None]] = [(("narrator_voice",), project.narrator_voice)]
    places += [(("characters", i, "voice"), c.voice) for i, c in enumerate(project.characters) if c.voice]
    found, hints = [], []
    for loc, voice in places:
        try:
            narrator.check_voice(voice)
        except InputError as exc:
            found.append(f"{loaded.document.where(loc)}: {'.'.join(map(str, loc))}: {exc}")
            hints.append(exc.hint)
    if found:
        raise UserError("\n".join(found), "; ".join(dict.fromkeys(h for h in hints if h)) or PROJECT_HINT)


def warm_up_backends(loaded: LoadedProject, stages: tuple[str, ...]) -> threading.Thread:
    """Import the chosen backends' packages, then load the narration voices, in a background thread: a run with
    work spends its first seconds waiting for Prefect's server with a core to spare, and every import or load
    done then is one its jobs skip. Returns the (daemon) thread."""
    project = loaded.project
    voices = dict.fromkeys([project.narrator_voice, *(c.voice for c in project.characters if c.voice)])

    def warm_up() -> None:
        for stage in stages:
            loaded.backends[stage].warm_up(voices if stage == "narration" else ())

    thread = threading.Thread(target=warm_up, name="film-warm-up", daemon=True)
    thread.start()
    return thread
