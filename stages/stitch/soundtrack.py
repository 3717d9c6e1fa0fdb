"""The film's soundtrack in numpy: narration placed on the timeline, a ducked music bed, loudness-normalised."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from stages.errors import StageError
from stages.media import run_ffmpeg

RATE = 48_000
CONTROL_RATE = 100  # ducking envelope resolution, Hz
DUCK_DB = -6.0
MUSIC_FADE = 2.0
PEAK_CEILING_DB = -2.0  # dBFS before AAC; the encoder overshoots by up to ~1 dB, so the film stays near -1 dBTP
LIMITER_WINDOW = 0.005  # seconds each side of a peak
LOUDNESS_TOLERANCE = 0.1


def db(gain_db: float) -> float:
    """Linear gain of a level in dB."""
    return 10.0 ** (gain_db / 20.0)


def read_audio(path: Path) -> Any:
    """A sound file as float32 (samples, channels) at 48 kHz, resampled with a polyphase filter if needed."""
    from math import gcd

    import numpy as np
    import soundfile
    from scipy.signal import resample_poly

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise StageError(f"cannot read audio {path}: {exc}") from exc
    if rate != RATE and len(data):
        g = gcd(RATE, rate)
        data = resample_poly(data, RATE // g, rate // g, axis=0).astype(np.float32)
    return data


def narration_track(placements: Sequence[tuple[Path, float]], total: int) -> Any:
    """Mono narration: each file mixed in at round(start * 48 kHz), cut at the film's end."""
    import numpy as np

    track = np.zeros(total, dtype=np.float32)
    for path, start in placements:
        voice = read_audio(path).mean(axis=1)
        at = min(round(start * RATE), total)
        end = min(total, at + len(voice))
        track[at:end] += voice[:end - at]
    return track


def duck_envelope(spans: Sequence[tuple[float, float]], total: int) -> Any:
    """Per-sample gain that dips DUCK_DB while anyone speaks, easing in and out over a few tenths of a second."""
    import numpy as np
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    steps = total * CONTROL_RATE // RATE + 2
    speaking = np.zeros(steps, dtype=np.float32)
    for start, end in spans:
        speaking[int(start * CONTROL_RATE):int(np.ceil(end * CONTROL_RATE)) + 1] = 1.0
    held = maximum_filter1d(speaking, size=int(0.3 * CONTROL_RATE) + 1)  # bridge short pauses
    smooth = uniform_filter1d(held, size=int(0.4 * CONTROL_RATE) + 1)  # 0.4 s ramps
    gain = db(DUCK_DB) ** smooth
    return np.interp(np.arange(total) / RATE, np.arange(steps) / CONTROL_RATE, gain).astype(np.float32)


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


def loudness(pcm: Any) -> float:
    """Integrated loudness (ITU-R BS.1770, LUFS) of 48 kHz audio."""
    import numpy as np
    import pyloudnorm

    block = int(0.4 * RATE)
    if len(pcm) < block:
        pcm = np.pad(pcm, ((0, block - len(pcm)), (0, 0)))
    return float(pyloudnorm.Meter(RATE).integrated_loudness(pcm.astype(np.float64)))


def limit(pcm: Any, ceiling_db: float = PEAK_CEILING_DB) -> Any:
    """Pull peaks down to the ceiling with a smooth look-ahead gain (attack and release LIMITER_WINDOW)."""
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = db(ceiling_db)
    peaks = np.abs(pcm).max(axis=1)
    if peaks.max(initial=0.0) <= ceiling:
        return pcm
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9)).astype(np.float32)
    size = 2 * round(LIMITER_WINDOW * RATE) + 1
    # Every sample of the moving average below sees only minima taken over windows covering it: gain <= need.
    gain = uniform_filter1d(minimum_filter1d(need, size=size), size=size)
    return np.clip(pcm * gain[:, None], -ceiling, ceiling)


def normalise(pcm: Any, target_lufs: float) -> tuple[Any, float]:
    """Gain to ``target_lufs`` with peaks kept under the ceiling; returns the audio and its final loudness."""
    measured = loudness(pcm)
    for _ in range(4):
        if measured == float("-inf"):  # silence: nothing to normalise
            break
        pcm = limit(pcm * db(target_lufs - measured))
        measured = loudness(pcm)
        if abs(measured - target_lufs) <= LOUDNESS_TOLERANCE:
            break
    return pcm, measured


def encode_aac(pcm: Any, out_path: Path, bitrate: str) -> None:
    """Encode 48 kHz float PCM to an AAC (M4A) file with ffmpeg."""
    run_ffmpeg(["-f", "f32le", "-ar", str(RATE), "-ac", str(pcm.shape[1]), "-i", "pipe:0",
                "-c:a", "aac", "-b:a", bitrate, "-f", "mp4", str(out_path)],
               f"encoding the soundtrack to {out_path.name}", stdin=pcm.astype("<f4").tobytes())
