"""The film's soundtrack in numpy: narration placed on the timeline, a ducked music bed, loudness-normalised."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.errors import StageError
from stages.media import run_ffmpeg

RATE = 48_000
CONTROL_RATE = 100  # ducking envelope resolution, Hz
DUCK_DB = -6.0
PAUSE_S, PAUSE_DB = 0.12, -35.0  # a pause in speech: this long, this far under the narration's loudest
BRIDGE_S = 0.8  # silences up to this long (sentence pauses, cuts between shots) keep the music ducked
MUSIC_FADE = 2.0
PEAK_CEILING_DB = -2.0  # dBFS before AAC; the encoder overshoots by up to ~1 dB, so the film stays near -1 dBTP
LIMITER_WINDOW = 0.005  # seconds each side of a peak
LOUDNESS_TOLERANCE = 0.1


def db(gain_db: float) -> float:
    """Linear gain of a level in dB."""
    return 10.0 ** (gain_db / 20.0)


def _read(path: Path) -> tuple[Any, int]:
    import soundfile

    try:
        return soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise StageError(f"cannot read audio {path}: {exc}") from exc


def read_audio(path: Path) -> Any:
    """A sound file as float32 (samples, channels) at 48 kHz, resampled with a polyphase filter if needed."""
    from math import gcd

    import numpy as np
    from scipy.signal import resample_poly

    data, rate = _read(path)
    if rate != RATE and len(data):
        g = gcd(RATE, rate)
        data = resample_poly(data, RATE // g, rate // g, axis=0).astype(np.float32)
    return data


def speech_pauses(path: Path) -> list[tuple[float, float]]:
    """The silences of at least PAUSE_S in a narration, as (start, end) seconds: 10 ms windows over 35 dB
    below its loudest."""
    import numpy as np

    data, rate = _read(path)
    hop = max(1, rate // 100)
    windows = len(data) // hop
    if windows == 0:
        return []
    energy = np.sqrt(np.square(data[:windows * hop]).mean(axis=1).reshape(windows, hop).mean(axis=1))
    quiet = (energy < energy.max() * 10 ** (PAUSE_DB / 20)).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet, [0]))))
    spans = [(a * hop / rate, b * hop / rate) for a, b in zip(edges[::2], edges[1::2])]
    return [(a, b) for a, b in spans if b - a >= PAUSE_S]


def narration_track(placements: Sequence[tuple[Path, float, float]], total: int) -> Any:
    """Mono narration: each file placed from its start to its end time (in seconds), cut or padded to fit."""
    import numpy as np

    track = np.zeros(total, dtype=np.float32)
    for path, start, end in placements:
        voice = read_audio(path).mean(axis=1)
        at, stop = min(round(start * RATE), total), min(round(end * RATE), total)
        part = voice[:stop - at]
        track[at:at + len(part)] = part
    return track


def duck_envelope(spans: Sequence[tuple[float, float]], total: int) -> Any:
    """Per-sample gain that dips DUCK_DB while anyone speaks, easing in and out over a few tenths of a second."""
    import numpy as np
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    steps = total * CONTROL_RATE // RATE + 2
    speaking = np.zeros(steps, dtype=np.float32)
    for start, end in spans:
        speaking[int(start * CONTROL_RATE):int(np.ceil(end * CONTROL_RATE)) + 1] = 1.0
    held = maximum_filter1d(speaking, size=int(BRIDGE_S * CONTROL_RATE) + 1)  # stay down through pauses
    smooth = uniform_filter1d(held, size=int(0.4 * CONTROL_RATE) + 1)  # 0.4 s ramps
    gain = np.float32(db(DUCK_DB)) ** smooth
    # Linear between control points, RATE // CONTROL_RATE samples apart: each step ramps to the next.
    ramp = np.arange(RATE // CONTROL_RATE, dtype=np.float32) / np.float32(RATE // CONTROL_RATE)
    return (gain[:-1, None] + np.diff(gain)[:, None] * ramp).ravel()[:total]


def music_bed(path: Path, total: int, gain_db: float, spans: Sequence[tuple[float, float]]) -> Any:
    """The music looped to the film's length at ``gain_db``, ducked under speech, faded in and out."""
    import numpy as np

    music = read_audio(path)
    if music.shape[1] > 2:
        music = music.mean(axis=1, keepdims=True)
    if not len(music):
        raise StageError(f"music file {path} has no samples")
    bed = np.tile(music, (-(-total // len(music)), 1))[:total] * np.float32(db(gain_db))
    fade = min(round(MUSIC_FADE * RATE), total // 2)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    envelope = duck_envelope(spans, total)
    envelope[:fade] *= ramp
    envelope[total - fade:] *= ramp[::-1]
    return bed * envelope[:, None]


def k_weighting() -> Any:
    """The BS.1770 K-weighting filter at 48 kHz as second-order sections, designed as pyloudnorm designs it."""
    import numpy as np
    from pyloudnorm.iirfilter import IIRfilter

    stages = (IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, RATE, "high_shelf"), IIRfilter(0.0, 0.5, 38.0, RATE, "high_pass"))
    return np.array([[*stage.b, *stage.a] for stage in stages])


def loudness(pcm: Any) -> float:
    """Integrated loudness (ITU-R BS.1770-4, LUFS) of 48 kHz mono or stereo audio; pyloudnorm's measure, vectorised."""
    import numpy as np
    from scipy.signal import sosfilt

    step = RATE // 10  # the 400 ms gating blocks overlap by 75 %: each is four 100 ms steps
    if len(pcm) < 4 * step:
        pcm = np.pad(pcm, ((0, 4 * step - len(pcm)), (0, 0)))
    sos, end = k_weighting(), len(pcm) // step * step
    state, parts = np.zeros((len(sos), pcm.shape[1], 2)), []
    for at in range(0, end, 100 * step):  # ten seconds at a time: small buffers, filter state carried over
        part = np.ascontiguousarray(pcm[at:min(at + 100 * step, end)].T, dtype=np.float64)
        weighted, state = sosfilt(sos, part, axis=1, zi=state)
        parts.append(np.square(weighted, out=weighted).reshape(len(part), -1, step).sum(axis=(0, 2)))  # gains 1.0
    energy = np.concatenate(parts)
    blocks = (energy[:-3] + energy[1:-2] + energy[2:-1] + energy[3:]) / (4 * step)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10.0 * np.log10(blocks)
    gated = blocks[levels >= -70.0]  # the absolute gate
    if not len(gated):
        return float("-inf")
    relative = -0.691 + 10.0 * np.log10(gated.mean()) - 10.0
    return float(-0.691 + 10.0 * np.log10(blocks[(levels >= -70.0) & (levels > relative)].mean()))


def limit(pcm: Any, ceiling_db: float = PEAK_CEILING_DB) -> Any:
    """Pull peaks down to the ceiling with a smooth look-ahead gain (attack and release LIMITER_WINDOW)."""
    from functools import reduce

    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = db(ceiling_db)
    peaks = reduce(np.maximum, np.abs(pcm.T))  # per sample, over channels
    over = np.flatnonzero(peaks > ceiling)
    if not len(over):
        return pcm
    size = 2 * round(LIMITER_WINDOW * RATE) + 1
    # The gain dips only within `size` samples of a peak over the ceiling: work on those stretches alone.
    breaks = np.flatnonzero(np.diff(over) > 2 * size)
    out = pcm.copy()
    for first, last in zip(over[np.r_[0, breaks + 1]], over[np.r_[breaks, -1]]):
        lo, hi = max(0, first - size), min(len(pcm), last + size + 1)
        need = np.minimum(1.0, ceiling / np.maximum(peaks[lo:hi], 1e-9)).astype(np.float32)
        # Every sample of the moving average sees only minima taken over windows covering it: gain <= need.
        gain = uniform_filter1d(minimum_filter1d(need, size=size, mode="nearest"), size=size, mode="nearest")
        out[lo:hi] = np.clip(pcm[lo:hi] * gain[:, None], -ceiling, ceiling)
    return out


def normalise(pcm: Any, target_lufs: float) -> tuple[Any, float]:
    """Gain to ``target_lufs`` with peaks kept under the ceiling; returns the audio and its final loudness."""
    level = loudness(pcm)
    if level == float("-inf"):  # silence: nothing to normalise
        return pcm, level
    gain, slope = 0.0, 1.0
    for _ in range(4):
        step = (target_lufs - level) / slope
        gain += step
        out = limit(pcm * db(gain))
        before, level = level, loudness(out)
        if abs(level - target_lufs) <= LOUDNESS_TOLERANCE:
            break
        # The limiter takes back part of each step: aim the next one by how far this one moved the level.
        slope = min(1.0, max(0.25, (level - before) / step)) if step else 1.0
    return out, level


def encode_aac(pcm: Any, out_path: Path, bitrate: str) -> None:
    """Encode 48 kHz float PCM to an AAC (M4A) file with ffmpeg's fast coder (over twice as fast as twoloop)."""
    run_ffmpeg(["-f", "f32le", "-ar", str(RATE), "-ac", str(pcm.shape[1]), "-i", "pipe:0",
                "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate, "-f", "mp4", str(out_path)],
               f"encoding the soundtrack to {out_path.name}", stdin=pcm.astype("<f4").tobytes())


@dataclass(frozen=True)
class Mix:
    """Everything that decides a soundtrack: narration placed from start to end (seconds), music, level, codec."""

    voices: tuple[tuple[Path, float, float], ...]
    samples: int  # the film's length at RATE
    music: Path | None
    music_gain_db: float
    speech: tuple[tuple[float, float], ...]  # spans the music ducks under
    loudness_lufs: float
    bitrate: str

    def render(self, out_path: Path) -> float:
        """Mix, normalise and encode the soundtrack into ``out_path``; returns its integrated loudness."""
        pcm = narration_track(self.voices, self.samples)[:, None]
        if self.music is not None:
            pcm = pcm + music_bed(self.music, self.samples, self.music_gain_db, self.speech)
        pcm, lufs = normalise(pcm, self.loudness_lufs)
        encode_aac(pcm, out_path, self.bitrate)
        return lufs
