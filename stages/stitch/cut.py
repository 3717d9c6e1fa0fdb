"""The film's cut as the stitcher makes it: the frame timeline of the shots and each shot's subtitle cues.

The stitcher renders from it and the editor's timeline (``film.otio``) is written from it, so both place
every shot, dissolve and cue with the same arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass

from stages.contracts import StitchRequest
from stages.stitch.soundtrack import speech_pauses
from stages.stitch.subtitles import Cue, film_cues, shot_cues
from stages.stitch.timeline import Timeline


@dataclass(frozen=True)
class Cut:
    """Where each shot falls (``timeline``) and its subtitle cues in shot time (``cues``, one tuple per shot)."""

    timeline: Timeline
    cues: tuple[tuple[Cue, ...], ...]

    def subtitles(self) -> list[Cue]:
        """Every cue of the film in film time, in order: what ``film.srt`` lists."""
        return film_cues(zip(self.timeline.starts, self.cues))


def plan_cut(request: StitchRequest) -> Cut:
    """The cut of the request's shots: whole frames covering each narration, the crossfades, the cues."""
    timeline = Timeline.plan([s.audio_duration for s in request.shots], request.format.fps, request.crossfade)
    cues = tuple(tuple(shot_cues(shot.timings, timeline.length(i), speech_pauses(shot.audio_path)))
                 for i, shot in enumerate(request.shots))
    return Cut(timeline, cues)
