"""Per-stage jobs: the request each backend gets, its content key, and running it through the store.

Keys hash exactly what decides an artifact: the request, the backend's name, version and options,
and the content digest of upstream artifacts. So editing a shot's image prompt redraws that still,
re-animates that shot and re-stitches; editing its narration re-narrates it and re-stitches.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from pipeline.run.context import RunContext
from pipeline.run.disk import stops_when_full
from pipeline.store import Record, digest, file_digest
from stages.assets import FONT_SANS_BOLD
from stages.contracts import (
    AnimationRequest,
    Animator,
    ImageMaker,
    ImageRequest,
    NarrationRequest,
    Narrator,
    Shot,
    Stitcher,
    StitchRequest,
    StitchShot,
)


@dataclass(frozen=True)
class Job:
    """One unit of stage work: where its result lives and how to make it."""

    stage: str
    shot: int | None
    key: str
    suffixes: dict[str, str]
    make: Callable[[dict[str, Path]], dict[str, Any]]
    request: Any = None  # what the backend is asked (for cost estimates)
    needs: tuple[Record, ...] = ()  # upstream artifacts whose files the backend reads (fetched first)


@dataclass(frozen=True)
class Outcome:
    """What happened to one job in this run."""

    stage: str
    shot: int | None
    key: str
    record: Record | None  # None when refused
    computed: bool
    wall_s: float
    refused: str | None = None  # why the provider refused this shot's content (or its upstream's); no record then

    @property
    def artifact(self) -> Record:
        """The stored result (an outcome that was refused has none)."""
        assert self.record is not None, f"{self.stage} of shot {self.shot} was refused: it has no result"
        return self.record

    @classmethod
    def refusal(cls, stage: str, shot: int | None, reason: str) -> Outcome:
        """A job whose content was refused: the rest of the film goes on without this shot."""
        return cls(stage, shot, "", None, computed=False, wall_s=0.0, refused=reason)


def stage_key(ctx: RunContext, stage: str, inputs: dict[str, Any]) -> str:
    """Cache key of a stage artifact: its inputs plus the backend identity."""
    return digest({"stage": stage, "inputs": inputs, **ctx.loaded.backends[stage].identity()})


def _result(model: BaseModel) -> dict[str, Any]:
    """A backend's result as its record keeps it: without the paths, which the store decides."""
    return model.model_dump(mode="json", exclude={"path", "video_path", "srt_path"})


def image_job(ctx: RunContext, shot: Shot) -> Job:
    """The still of one shot."""
    project = ctx.project
    present = tuple(c for c in project.characters if c.name in shot.characters)
    request = ImageRequest(
        number=shot.shot, prompt=shot.image_prompt, mood=shot.mood, time_of_day=shot.time_of_day,
        speaker=shot.speaker, characters=present, width=project.format.width, height=project.format.height,
        seed=project.seed,
    )
    backend = cast(ImageMaker, ctx.loaded.backends["images"])
    key = stage_key(ctx, "images", request.model_dump(mode="json"))
    return Job("images", shot.shot, key, {"main": ".png"}, lambda p: _result(backend.make_image(request, p["main"])),
               request)


def neighbours(ctx: RunContext, shot: Shot) -> tuple[str, str]:
    """The narration of the shots just before and after ``shot`` ('' at the ends)."""
    shots = ctx.shots()
    i = next(i for i, s in enumerate(shots) if s.shot == shot.shot)
    return (shots[i - 1].narration if i > 0 else "", shots[i + 1].narration if i + 1 < len(shots) else "")


def narration_job(ctx: RunContext, shot: Shot) -> Job:
    """The spoken narration of one shot (with its neighbours' text for backends whose prosody flows)."""
    voice = ctx.project.voice_for(shot.speaker)
    backend = ctx.loaded.backends["narration"]
    before, after = neighbours(ctx, shot) if backend.uses_neighbours else ("", "")
    request = NarrationRequest(text=shot.narration, speaker=shot.speaker, voice=voice, previous_text=before,
                               next_text=after)
    stamp = None
    voice_file = Path(voice.split("#", 1)[0]) if voice else None
    if voice_file and voice_file.is_file():
        stat = voice_file.stat()
        stamp = [stat.st_size, int(stat.st_mtime)]
    key = stage_key(ctx, "narration", {"request": request.model_dump(mode="json"), "voice_file": stamp})
    narrator = cast(Narrator, backend)
    return Job("narration", shot.shot, key, {"main": ".wav"}, lambda p: _result(narrator.narrate(request, p["main"])),
               request)


def clip_seconds(ctx: RunContext, narration_seconds: float) -> int:
    """Length asked of the animation: the narration plus the crossfade tail, to the nearest second.

    Whole seconds mean a small narration edit keeps the same clip (no re-animation); the stitch
    fits every clip to its narration (cutting it, or easing it slower by under half a second).
    """
    return max(1, round(narration_seconds + ctx.project.finish.crossfade))


def animation_job(ctx: RunContext, shot: Shot, image: Record, narration: Record) -> Job:
    """The moving clip of one shot, from its still, as long as its narration needs."""
    project = ctx.project
    seconds = clip_seconds(ctx, narration.duration)
    request = AnimationRequest(
        number=shot.shot, image_path=ctx.store.local_path(image), duration=seconds, motion=shot.motion,
        format=project.format.video(), seed=project.seed + shot.shot, description=shot.image_prompt,
        image_url=image.fresh_url(),
    )
    inputs = request.model_dump(mode="json", exclude={"image_path", "image_url"}) | {"image": image.digest}
    backend = cast(Animator, ctx.loaded.backends["animation"])
    key = stage_key(ctx, "animation", inputs)
    return Job("animation", shot.shot, key, {"main": ".mp4"}, lambda p: _result(backend.animate(request, p["main"])),
               request, needs=(image,))


def stitch_job(ctx: RunContext, parts: list[tuple[Shot, Record, Record]]) -> Job:
    """The finished film from every shot's clip and narration."""
    finish, store = ctx.project.finish, ctx.store
    shots = tuple(
        StitchShot(
            number=shot.shot, clip_path=store.local_path(clip), clip_duration=clip.duration,
            audio_path=store.local_path(voice), audio_duration=voice.duration, timings=voice.timings,
            clip_digest=clip.digest, audio_digest=voice.digest,
        )
        for shot, clip, voice in parts
    )
    request = StitchRequest(
        shots=shots, format=ctx.project.format.video(), crossfade=finish.crossfade, subtitles=finish.subtitles,
        font_path=FONT_SANS_BOLD, music_path=finish.music, music_gain_db=finish.music_gain_db,
        loudness_lufs=finish.loudness_lufs, workers=ctx.project.workers, segment_cache=store.root / "stitch-segments",
    )
    inputs = {
        "shots": [[clip.digest, voice.key, voice.digest] for _, clip, voice in parts],
        "finish": finish.model_dump(mode="json", exclude={"music"}),
        "music": file_digest(finish.music) if finish.music and finish.music.is_file() else None,
        "format": request.format.model_dump(),
    }
    backend = cast(Stitcher, ctx.loaded.backends["stitch"])
    key = stage_key(ctx, "stitch", inputs)
    return Job("stitch", None, key, {"main": ".mp4", "srt": ".srt"},
               lambda p: _result(backend.stitch(request, p["main"], p["srt"])), request,
               needs=tuple(record for _, clip, voice in parts for record in (clip, voice)))


def run_job(ctx: RunContext, job: Job, force: bool = False) -> Outcome:
    """Reuse the stored artifact for ``job`` unless forced; otherwise make it and store it."""
    store = ctx.store
    record = None if force else store.load(job.stage, job.key)
    if record is not None:
        return Outcome(job.stage, job.shot, job.key, record, computed=False, wall_s=0.0)
    started = time.perf_counter()
    backend = ctx.loaded.backends[job.stage]
    info: dict[str, Any] = {"shot": job.shot, "backend": backend.name, "host": socket.gethostname(), "pid": os.getpid()}
    journal = store.journal(job.stage, job.key)
    booked = len(ctx.desk.spent)
    for upstream in job.needs:
        store.fetch(upstream)

    def make(paths: dict[str, Path]) -> dict[str, Any]:
        result = ctx.desk.attempt(job.stage, job.shot, backend, journal, lambda: job.make(paths), store.journal_saved)
        spent = [s for s in ctx.desk.spent[booked:] if (s.stage, s.shot) == (job.stage, job.shot)]
        info["spend_usd"] = round(sum(s.usd for s in spent), 6)
        info["busy_s"] = round(ctx.desk.busy.get((job.stage, job.shot), 0.0), 3)  # wall_s less waiting for a slot
        return result

    made_from = [store.local_path(up, name) for up in job.needs for name in up.files]
    with stops_when_full(store.root / job.stage, store.root, job.stage, made_from):
        record = store.produce(job.stage, job.key, job.suffixes, make, info=info)
    store.drop_journal(job.stage, job.key)  # the result is stored: nothing left to collect
    return Outcome(job.stage, job.shot, job.key, record, computed=True, wall_s=time.perf_counter() - started)
