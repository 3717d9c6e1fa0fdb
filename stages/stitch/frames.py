"""Film frames from shot clips: forward-only clip readers, dissolves and burned-in subtitles."""
from __future__ import annotations

import bisect
from typing import Any, Sequence

from stages.contracts import StitchShot
from stages.errors import StageError
from stages.stitch.subtitles import Cue, CueRenderer, Overlay
from stages.stitch.timeline import Timeline


def blend(a: Any, b: Any, weight: float) -> Any:
    """``a`` dissolved ``weight`` of the way into ``b`` (uint8 frames)."""
    import cv2

    return cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0)


class ClipSource:
    """One shot's clip in shot time, read forward with moviepy's ffmpeg reader; a clip shorter than its
    narration is slowed down to fit (in-between frames blended), and past its end it holds the last frame."""

    def __init__(self, shot: StitchShot, size: tuple[int, int]) -> None:
        from moviepy.video.io.ffmpeg_reader import FFMPEG_VideoReader

        try:  # decoded to rgb24 at the film's frame size (ffmpeg scales a clip of another size)
            self.reader = FFMPEG_VideoReader(str(shot.clip_path), decode_file=False, target_resolution=size)
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise StageError(f"cannot read the clip of shot {shot.number}, {shot.clip_path}: {exc}") from exc
        fps = self.reader.fps
        self.stretched = shot.clip_duration < shot.audio_duration
        self.rate = fps * (shot.clip_duration / shot.audio_duration if self.stretched else 1.0)
        self.last = max(0, round(shot.clip_duration * fps) - 1)
        self.index, self.current, self.previous = 0, self.reader.last_read, self.reader.last_read

    def _seek(self, index: int) -> Any:
        while self.index < index:
            self.previous, self.current = self.current, self.reader.read_frame()
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
        return blend(self.previous, nxt, position - index)

    def close(self) -> None:
        """Stop the decoder."""
        self.reader.close()


class SegmentPainter:
    """Paints film frames of one segment: the owning shot's picture, dissolves into the next, subtitles."""

    def __init__(self, timeline: Timeline, shots: Sequence[StitchShot], size: tuple[int, int],
                 cues: Sequence[Cue], renderer: CueRenderer | None) -> None:
        self.timeline, self.shots, self.size = timeline, shots, size
        self.cues, self.renderer = cues, renderer
        self.cue_starts = [cue.start for cue in cues]
        self.sources: dict[int, ClipSource] = {}
        self.overlays: dict[int, Overlay] = {}

    def _source(self, shot: int) -> ClipSource:
        if shot not in self.sources:
            self.sources[shot] = ClipSource(self.shots[shot], self.size)
        return self.sources[shot]

    def _picture(self, shot: int, frame: int) -> Any:
        return self._source(shot).at(frame / self.timeline.fps - self.timeline.starts[shot])

    def _overlay(self, time: float) -> Overlay | None:
        i = bisect.bisect_right(self.cue_starts, time) - 1
        if self.renderer is None or i < 0 or time >= self.cues[i].end:
            return None
        if i not in self.overlays:
            self.overlays[i] = self.renderer.render(self.cues[i])
        return self.overlays[i]

    def frame(self, frame: int) -> Any:
        """Film frame number ``frame`` as an RGB uint8 array."""
        tl = self.timeline
        shot = tl.shot_at(frame)
        picture = self._picture(shot, frame)
        into = frame - tl.frames[shot]
        if into < tl.fades[shot]:
            picture = blend(self._picture(shot - 1, frame), picture, (into + 1) / (tl.fades[shot] + 1))
        overlay = self._overlay(frame / tl.fps)
        return overlay.apply(picture) if overlay is not None else picture

    def close(self) -> None:
        """Stop every decoder this segment opened."""
        for source in self.sources.values():
            source.close()
        self.sources.clear()
