"""Subtitle cues from narration timings: chunking, SRT text and pre-rendered overlays to burn in."""
from __future__ import annotations

import math
import textwrap
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, takewhile
from pathlib import Path
from typing import Any

from stages.contracts import Timing
from stages.errors import InputError
from stages.media import i420_planes, rgb_to_ycbcr
from stages.text import RANKS, TITLES

LINE_CHARS = 42
CUE_LINES = 2
SAFE_WIDTH = 0.9  # of the frame: the widest a burned-in cue may be
MIN_CUE_S = 1.0  # a cue stays up at least this long where the silence after it allows: a blink cannot be read
SNAP_S = 1.0  # a cue change inside a sentence moves to the end of a pause in the speech this close to it
PAUSE_MARKS = ",;:—"  # a word ending in one of these is followed by a pause: the best place to change cue or line
# Words a line should not end on: they belong with the word after them (titles and ranks with the name).
CLINGING = frozenset("a an the of to in on at by for from with and or but his her its my your our their".split()
                     + [f"{title.lower()}." for title in TITLES] + [rank.lower() for rank in RANKS])


@dataclass(frozen=True)
class Cue:
    """One subtitle: its span (in film or shot time) and up to two lines of text."""

    start: float
    end: float
    lines: tuple[str, ...]


def balance(lines: Sequence[str], width: int = LINE_CHARS) -> tuple[str, ...]:
    """Re-split a two-line chunk at the word break that makes both lines most even (each within width)."""
    words = " ".join(lines).split()

    def cost(k: int) -> float:  # the longer line, plus a penalty for breaking after a clinging word
        return max(len(" ".join(words[:k])), len(" ".join(words[k:]))) + _break_penalty(words[k - 1])

    best, best_cost = tuple(lines), cost(len(lines[0].split()))
    for k in range(1, len(words)):
        pair = (" ".join(words[:k]), " ".join(words[k:]))
        if max(map(len, pair)) <= width and cost(k) < best_cost:
            best, best_cost = pair, cost(k)
    return best


def _break_penalty(word: str) -> int:
    """Characters' worth of cost for a break after ``word``: a pause mark makes it cheap, a clinging word dear."""
    if word[-1:] in PAUSE_MARKS:
        return -10
    return 10 if word.lower() in CLINGING else 0


def chunk_text(text: str, width: int = LINE_CHARS, lines: int = CUE_LINES) -> list[tuple[str, ...]]:
    """Split a sentence into as few cues of at most ``lines`` lines of ``width`` characters as it needs,
    of about equal length (falling back to filling cue after cue when even cuts do not fit)."""
    words = text.split()
    wrapped = textwrap.wrap(" ".join(words), width)
    groups = [wrapped[i:i + lines] for i in range(0, len(wrapped), lines)]
    count = len(groups)
    if 1 < count <= len(words):
        ends, cuts = list(accumulate(len(word) + 1 for word in words)), [0]
        def fits(a: int, b: int, cues: int) -> bool:
            return len(textwrap.wrap(" ".join(words[a:b]), width)) <= lines * cues

        def cost(i: int, j: int) -> float:
            return abs(ends[i - 1] - ends[-1] * j / count) + _break_penalty(words[i - 1])

        for j in range(1, count):  # each cut near its even share, after a pause mark rather than a clinging word
            # the heads that fit one cue (a longer head never does once a shorter one does not), cheapest first:
            # the first whose tail still fits the cues left
            heads = takewhile(lambda i: fits(cuts[-1], i, 1), range(cuts[-1] + 1, len(words)))
            cut = next((i for i in sorted(heads, key=lambda i: cost(i, j)) if fits(i, len(words), count - j)), None)
            if cut is None:
                break
            cuts.append(cut)
        even = [textwrap.wrap(" ".join(words[a:b]), width) for a, b in zip(cuts, [*cuts[1:], len(words)])]
        if len(even) == count and all(0 < len(group) <= lines for group in even):
            groups = even
    return [balance(group, width) if len(group) == 2 else tuple(group) for group in groups]


def sentence_cues(timing: Timing, length: float, pauses: Sequence[tuple[float, float]] = ()) -> list[Cue]:
    """Cues of one timed sentence kept within a shot of ``length`` seconds, its span shared out by characters;
    each change of cue moves to where the speech resumes after the nearest of ``pauses`` (silences, in shot
    time) within SNAP_S, so a cue does not run ahead of the words it shows."""
    chunks = chunk_text(timing.text)
    start, end = min(max(timing.start, 0.0), length), min(max(timing.end, 0.0), length)
    sizes = [sum(map(len, chunk)) for chunk in chunks]
    total, bounds = sum(sizes) or 1, [start]
    guesses = [start + (end - start) * done / total for done in accumulate(sizes[:-1])]
    for chunk, guess, following in zip(chunks, guesses, [*guesses[1:], end]):
        # where this cue ends on a pause mark, the speaker pauses: the pause that begins nearest the guess (and
        # ends within the first half of the next cue's estimated time, so that cue keeps most of it)
        paused = chunk[-1][-1:] in PAUSE_MARKS
        near = [(silent, resume) for silent, resume in pauses if paused and bounds[-1] < silent
                and resume < (guess + following) / 2 and abs(silent - guess) <= SNAP_S]
        bounds.append(min(near, key=lambda pause: abs(pause[0] - guess))[1] if near else max(guess, bounds[-1]))
    bounds.append(end)
    return [Cue(a, b, chunk) for chunk, a, b in zip(chunks, bounds, bounds[1:]) if b > a]


def shot_cues(timings: Iterable[Timing], length: float, pauses: Sequence[tuple[float, float]] = ()) -> list[Cue]:
    """Cues of one shot in shot time (seconds from its first frame), kept within its ``length``, in time order,
    changing inside a sentence where the speech resumes after one of ``pauses``; a short one is held into the
    silence after it (up to MIN_CUE_S), never past the next cue or the shot."""
    cues = sorted((cue for timing in timings for cue in sentence_cues(timing, length, pauses)),
                  key=lambda cue: cue.start)
    nexts = [cue.start for cue in cues[1:]] + [length]
    return [Cue(cue.start, max(cue.end, min(cue.start + MIN_CUE_S, following, length)), cue.lines)
            for cue, following in zip(cues, nexts)]


def film_cues(shots: Iterable[tuple[float, Sequence[Cue]]]) -> list[Cue]:
    """All cues of the film from (shot start, shot cues) pairs, moved to film time, in time order."""
    return sorted((Cue(start + cue.start, start + cue.end, cue.lines) for start, cues in shots for cue in cues),
                  key=lambda cue: cue.start)


def caption_at(cues: Sequence[Cue], time: float) -> Cue | None:
    """The cue on screen at ``time``: the latest-starting one that spans it, if any."""
    return next((cue for cue in reversed(cues) if cue.start <= time < cue.end), None)


def srt_time(seconds: float) -> str:
    """HH:MM:SS,mmm of a film time."""
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def srt_text(cues: Sequence[Cue]) -> str:
    """The cues as an SRT document."""
    return "".join(f"{i}\n{srt_time(c.start)} --> {srt_time(c.end)}\n" + "\n".join(c.lines) + "\n\n"
                   for i, c in enumerate(cues, 1))


class Overlay:
    """A cue drawn once as premultiplied Y, U and V patches, blended into I420 frames over its own rows only."""

    def __init__(self, rgba: Any, x: int, y: int, frame: tuple[int, int]) -> None:
        """``rgba``: the cue's straight-alpha pixels, placed at (``x``, ``y``) inside a ``frame`` (w, h) frame."""
        import numpy as np

        rgba, x, y = self._aligned(rgba, x, y, frame)
        alpha = rgba[..., 3].astype(np.float32) / 255.0
        ycc = rgb_to_ycbcr(rgba[..., :3]) * alpha[..., None]
        h, w = alpha.shape

        def halve(a: Any) -> Any:  # the mean of each 2x2 block: chroma is subsampled
            return a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

        alphas, samples = (alpha, halve(alpha), halve(alpha)), (ycc[..., 0], halve(ycc[..., 1]), halve(ycc[..., 2]))
        self.inverse = [(256 - np.round(a * 256)).astype(np.uint16) for a in alphas]
        self.premul = [(np.round(c * 256) + 128).astype(np.uint16) for c in samples]
        self.frame, self.places = frame, ((x, y), (x // 2, y // 2), (x // 2, y // 2))

    @staticmethod
    def _aligned(rgba: Any, x: int, y: int, frame: tuple[int, int]) -> tuple[Any, int, int]:
        """The patch padded with transparent pixels to even place and size, cut to the frame."""
        import numpy as np

        left, top = x % 2, y % 2
        h, w = rgba.shape[:2]
        padded = np.zeros((top + h + (top + h) % 2, left + w + (left + w) % 2, 4), np.uint8)
        padded[top:top + h, left:left + w] = rgba
        x, y = x - left, y - top
        return padded[:frame[1] - y, :frame[0] - x], x, y

    def apply(self, frame: Any) -> Any:
        """A copy of the I420 ``frame`` with the cue blended in."""
        out = frame.copy()
        for plane, premul, inverse, (x, y) in zip(i420_planes(out, self.frame), self.premul, self.inverse,
                                                   self.places):
            h, w = premul.shape
            region = plane[y:y + h, x:x + w]
            region[...] = ((region * inverse + premul) >> 8).astype(plane.dtype)
        return out


class CueRenderer:
    """Draws cues in white with a dark outline and soft shadow, bottom-centred inside a safe margin."""

    def __init__(self, font_path: Path, size: tuple[int, int]) -> None:
        self.width, self.height = size
        self.px = max(8, min(self.height // 20, self.width // 26))
        self.lock = threading.Lock()  # segments render in threads; a FreeType face is not thread-safe
        self.font_path = font_path
        self.fonts: dict[int, Any] = {}  # FreeType faces by pixel size
        try:
            self._font(self.px)
        except OSError as exc:
            raise InputError(f"cannot load the subtitle font {font_path}: {exc}") from exc

    def _font(self, px: int) -> Any:
        from PIL import ImageFont

        if px not in self.fonts:
            self.fonts[px] = ImageFont.truetype(str(self.font_path), px)
        return self.fonts[px]

    def render(self, cue: Cue) -> Overlay:
        """The cue as an overlay placed on the frame."""
        with self.lock:
            return self._draw(cue)

    def _draw(self, cue: Cue) -> Overlay:
        import numpy as np
        from PIL import Image, ImageDraw, ImageFilter

        text, px = "\n".join(cue.lines), self.px
        while True:  # the cue's font size: the renderer's, or smaller where a long line would not fit the frame
            stroke, spacing, shadow = max(1, round(px / 14)), round(px * 0.25), max(1, round(px / 12))
            options = dict(font=self._font(px), spacing=spacing, align="center", stroke_width=stroke)
            box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, **options)
            widest = box[2] - box[0] + 2 * (stroke + 3 * shadow)
            if widest <= self.width * SAFE_WIDTH or px <= 8:
                break
            px = max(8, min(px - 1, int(px * self.width * SAFE_WIDTH / widest)))
        left, top, right, bottom = (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3]))
        pad = stroke + 3 * shadow
        canvas = (right - left + 2 * pad, bottom - top + 2 * pad)
        origin = (pad - left, pad - top)
        shade = Image.new("RGBA", canvas, (0, 0, 0, 0))
        ImageDraw.Draw(shade).multiline_text((origin[0] + shadow, origin[1] + shadow), text, fill=(0, 0, 0, 170),
                                             stroke_fill=(0, 0, 0, 170), **options)
        face = Image.new("RGBA", canvas, (0, 0, 0, 0))
        ImageDraw.Draw(face).multiline_text(origin, text, fill=(255, 255, 255, 255), stroke_fill=(0, 0, 0, 255),
                                            **options)
        image = Image.alpha_composite(shade.filter(ImageFilter.GaussianBlur(shadow)), face)
        image = image.crop(image.getbbox() or (0, 0, 1, 1))
        x = (self.width - image.width) // 2
        y = self.height - round(self.height * 0.07) - image.height
        crop = (max(0, -x), max(0, -y), min(image.width, self.width - x), min(image.height, self.height - y))
        return Overlay(np.asarray(image.crop(crop)), max(0, x), max(0, y), (self.width, self.height))
