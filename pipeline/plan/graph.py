"""The stage graph, written once: what each stage is made from and the job that makes it.

Images and narration are made from the script (a shot of the screenplay); a shot's animation from its still
and its narration (which sets the clip's length); the stitch from every shot's clip and narration. Planning
(``planner.make_plan``: what is cached, what must run) and the flow (which task waits on which) both walk
this one description.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.run.context import RunContext
from pipeline.run.jobs import Job, animation_job, image_job, narration_job, stitch_job
from pipeline.store import Record
from stages.contracts import Shot

SCRIPT = "script"
STITCH = "stitch"


@dataclass(frozen=True)
class ShotStage:
    """A stage with one job per shot, made from the same shot's results of ``needs`` (and the screenplay)."""

    name: str
    needs: tuple[str, ...]
    job: Callable[[RunContext, Shot, Mapping[str, Record]], Job]


@dataclass(frozen=True)
class FilmStage:
    """A stage with one job for the whole film, made from every shot's results of ``needs``."""

    name: str
    needs: tuple[str, ...]
    job: Callable[[RunContext, Sequence[tuple[Shot, Mapping[str, Record]]]], Job]


SHOT_GRAPH = (  # in the order a shot's jobs are planned and submitted
    ShotStage("images", (), lambda ctx, shot, _: image_job(ctx, shot)),
    ShotStage("narration", (), lambda ctx, shot, _: narration_job(ctx, shot)),
    ShotStage("animation", ("images", "narration"),
              lambda ctx, shot, up: animation_job(ctx, shot, up["images"], up["narration"])),
)
FILM_STAGE = FilmStage(STITCH, ("animation", "narration"),
                       lambda ctx, parts: stitch_job(ctx, [(shot, up["animation"], up["narration"])
                                                           for shot, up in parts]))
SHOT_STAGES = tuple(stage.name for stage in SHOT_GRAPH)
# What each stage is made from: the screenplay for the first shot stages, else the stages it names.
DEPENDS: dict[str, tuple[str, ...]] = {SCRIPT: ()} | {
    stage.name: stage.needs or (SCRIPT,) for stage in (*SHOT_GRAPH, FILM_STAGE)}


def ancestors(stage: str) -> set[str]:
    """A stage and every stage it depends on."""
    found = {stage}
    for dep in DEPENDS[stage]:
        found |= ancestors(dep)
    return found


def dependents(stage: str) -> set[str]:
    """The stages made (directly or not) from ``stage``."""
    return {other for other in DEPENDS if other != stage and stage in ancestors(other)}
