"""The film's timeline in frames: where each shot starts, its crossfade, and how frames split into segments."""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Sequence


@dataclass(frozen=True)
class Timeline:
    """Shot i starts at ``starts[i]`` seconds and owns film frames ``frames[i]`` to ``frames[i + 1]``.

    Its first ``fades[i]`` frames dissolve from shot i - 1. A segment ends with the dissolve into the
    next shot, so it reads every clip it needs forward from the clip's start, with no seeking.
    """

    fps: int
    starts: tuple[float, ...]  # one more than shots: the last is the film's duration
    frames: tuple[int, ...]  # round(start * fps), so picture and sound never drift more than half a frame
    fades: tuple[int, ...]

    @classmethod
    def plan(cls, durations: Sequence[float], fps: int, crossfade: float) -> Timeline:
        """Lay shots of the given narration lengths end to end, with crossfades of ``crossfade`` seconds."""
        starts = (0.0, *accumulate(durations))
        frames = tuple(round(t * fps) for t in starts)
        want = max(0, round(crossfade * fps))
        fades = tuple(0 if i == 0 else max(0, min(want, frames[i + 1] - frames[i] - 1))
                      for i in range(len(durations)))
        return cls(fps, starts, frames, fades)

    @property
    def duration(self) -> float:
        """Film length in seconds: the sum of the narrations."""
        return self.starts[-1]

    @property
    def total_frames(self) -> int:
        """Number of frames in the film."""
        return self.frames[-1]

    def shot_at(self, frame: int) -> int:
        """Index of the shot that owns a film frame."""
        return min(max(bisect.bisect_right(self.frames, frame) - 1, 0), len(self.fades) - 1)

    def segments(self) -> list[tuple[int, int]]:
        """Frame ranges [first, stop) rendered apart, each ending with the dissolve into the next shot."""
        cuts = [0, *(self.frames[i] + self.fades[i] for i in range(1, len(self.fades))), self.total_frames]
        return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
