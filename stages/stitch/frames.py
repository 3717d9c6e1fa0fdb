"""Film frames from shot clips: forward-only clip readers, dissolves and burned-in subtitles, all in shot time
and all in I420 (the encoder's own format: no colour conversion per frame)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stages.contracts import StitchShot
from stages.errors import StageError
from stages.media import FrameReader
from stages.stitch.subtitles import Cue, CueRenderer, Overlay, caption_at
from stages.stitch.timeline import Timeline


def blend(a: Any, b: Any, weight: float) -> Any:
    """``a`` dissolved ``weight`` of the way into ``b`` (uint8 frames; every I420 sample blends linearly)."""
    import cv2

    return cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0)


def stretch(shot: StitchShot) -> float:
    """Clip seconds per shot second: below 1 where a clip shorter than its narration is slowed down to fit."""
    return shot.clip_duration / shot.audio_duration if shot.clip_duration < shot.audio_duration else 1.0


def burned_cues(timeline: Timeline, cues: Sequence[Sequence[Cue]], span: tuple[int, int]) -> list[Cue | None]:
    """The cue burned into each film frame of ``span``, from each shot's cues in shot time."""
    burned = []
    for frame in range(*span):
        shot, into = timeline.locate(frame)
        burned.append(caption_at(cues[shot], into / timeline.fps))
    return burned


class ClipSource:
    """One shot's clip in shot time, decoded forward as I420 frames at the film's size and rate; a clip
    shorter than its narration is slowed down to fit (in-between frames blended), and past its end it holds
    the last frame."""

    def __init__(self, shot: StitchShot, size: tuple[int, int], fps: int, until: float | None = None) -> None:
        """``until``: the latest shot time (seconds) the picture will be asked for; the clip is not decoded past it."""
        factor = stretch(shot)
        self.stretched = factor < 1.0
        self.rate = fps * factor
        self.last = max(0, round(shot.clip_duration * fps) - 1)
        needed = None if until is None else int(max(0.0, until) * self.rate) + 2  # + the frame blended in
        self.reader = FrameReader(shot.clip_path, size, fps, frames=needed)
        first = self.reader.read()
        if first is None:
            self.reader.close()
            raise StageError(f"the clip of shot {shot.number}, {shot.clip_path}, has no frames")
        self.index, self.current, self.previous = 0, first, first

    def _seek(self, index: int) -> Any:
        while self.index < index:
            following = self.reader.read()
            if following is None:  # the clip ended early: hold its last frame
                self.last = self.index
                break
            self.previous, self.current = self.current, following
            self.index += 1
        return self.current

    def at(self, t: float) -> Any:
        """The picture at shot time ``t`` seconds."""
        position = max(0.0, t * self.rate)
        if not self.stretched:
            return self._seek(min(round(position), self.last))
        index = int(position)
        if index >= self.last:
            return self._seek(self.last)
        nxt = self._seek(index + 1)
        if self.index != index + 1:
            return nxt
        return blend(self.previous, nxt, position - index)

    def close(self) -> None:
        """Stop the decoder."""
        self.reader.close()


class SegmentPainter:
    """Paints the film frames of one segment: the owning shot's picture, the dissolve into it, its cue.

    Clips are sampled at the frame's time from its shot's first frame, so the pixels of a segment never
    depend on where in the film its shots fall."""

    def __init__(self, timeline: Timeline, shots: Sequence[StitchShot], size: tuple[int, int], first: int,
                 cues: Sequence[Cue | None], renderer: CueRenderer | None) -> None:
        """``cues`` holds the cue of each frame from ``first`` on (all None where ``renderer`` is None)."""
        self.timeline, self.shots, self.size = timeline, shots, size
        self.first, self.cues, self.renderer = first, cues, renderer
        self.sources: dict[int, ClipSource] = {}
        self.overlays: dict[tuple[str, ...], Overlay] = {}

    def _picture(self, shot: int, into: int) -> Any:
        tl = self.timeline
        if shot not in self.sources:
            # the shot is seen up to the segment's end or its own dissolve out, whichever comes first
            last = min(self.first + len(self.cues), tl.frames[shot + 1] + tl.fade_out(shot)) - 1 - tl.frames[shot]
            self.sources[shot] = ClipSource(self.shots[shot], self.size, tl.fps, until=last / tl.fps)
        return self.sources[shot].at(into / tl.fps)

    def _overlay(self, cue: Cue) -> Overlay:
        if cue.lines not in self.overlays:
            assert self.renderer is not None, "cues are drawn only when subtitles are burnt in"
            self.overlays[cue.lines] = self.renderer.render(cue)
        return self.overlays[cue.lines]

    def frame(self, frame: int) -> Any:
        """Film frame number ``frame``, one of this segment's, as an I420 (height * 3 / 2, width) uint8 array."""
        tl = self.timeline
        shot, into = tl.locate(frame)
        picture = self._picture(shot, into)
        if into < tl.fades[shot]:
            before = self._picture(shot - 1, frame - tl.frames[shot - 1])
            picture = blend(before, picture, (into + 1) / (tl.fades[shot] + 1))
        cue = self.cues[frame - self.first]
        return self._overlay(cue).apply(picture) if cue is not None else picture

    def close(self) -> None:
        """Stop every decoder this segment opened."""
        for source in self.sources.values():
            source.close()
        self.sources.clear()
