"""The film's timeline in frames: each shot's own run of frames, its crossfade, and the segments they form."""
from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Timeline:
    """Shot i owns film frames ``frames[i]`` to ``frames[i + 1]``: max(1, ceil(narration * fps)) of them, the
    whole frames that hold its narration.

    Counting frames per shot (not rounding a running sum of seconds) makes a shot's frames, and so its
    segment's pixels, independent of every earlier shot's length. Its narration starts with its first
    frame. Its first ``fades[i]`` frames dissolve from shot i - 1. Segment i is shot i's frames after its
    dissolve plus the dissolve into shot i + 1, so it reads every clip forward from where it starts.
    """

    fps: int
    frames: tuple[int, ...]  # one more than shots: the last is the film's frame count
    fades: tuple[int, ...]

    @classmethod
    def plan(cls, durations: Sequence[float], fps: int, crossfade: float) -> Timeline:
        """Frame runs of shots with the given narration lengths, dissolving over ``crossfade`` seconds."""
        counts = [max(1, math.ceil(d * fps - 1e-6)) for d in durations]  # whole frames covering each narration
        want = max(0, round(crossfade * fps))
        fades = tuple(0 if i == 0 else min(want, n - 1) for i, n in enumerate(counts))
        return cls(fps, (0, *accumulate(counts)), fades)

    @property
    def starts(self) -> tuple[float, ...]:
        """Film time in seconds at which each shot, picture and sound, starts; the last is the film's end."""
        return tuple(f / self.fps for f in self.frames)

    @property
    def duration(self) -> float:
        """Film length in seconds: its frame count over the frame rate."""
        return self.total_frames / self.fps

    @property
    def total_frames(self) -> int:
        """Number of frames in the film."""
        return self.frames[-1]

    def length(self, shot: int) -> float:
        """Seconds of the shot's own frames."""
        return (self.frames[shot + 1] - self.frames[shot]) / self.fps

    def locate(self, frame: int) -> tuple[int, int]:
        """The shot owning a film frame and the frame's index within that shot."""
        shot = min(max(bisect.bisect_right(self.frames, frame) - 1, 0), len(self.fades) - 1)
        return shot, frame - self.frames[shot]

    def fade_out(self, shot: int) -> int:
        """Frames of the dissolve from ``shot`` into the next (0 for the last shot)."""
        return self.fades[shot + 1] if shot + 1 < len(self.fades) else 0

    def segments(self) -> list[tuple[int, int]]:
        """Film frame ranges [first, stop) rendered apart, one per shot, each ending with its dissolve out."""
        return [(self.frames[i] + self.fades[i], self.frames[i + 1] + self.fade_out(i)) for i in range(len(self.fades))]
