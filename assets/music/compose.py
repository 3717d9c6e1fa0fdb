"""Compose ``regency_air.ogg``: a soft, loopable minuet for harpsichord, synthesised with numpy (CC0).

Run ``python assets/music/compose.py`` to regenerate the file; the output depends on nothing but this script.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44100
TEMPO = 84  # quarter notes a minute, three to the bar
TONIC = 62  # D4, MIDI number: the air is in D major
SCALE = (0, 2, 4, 5, 7, 9, 11)
PEAK_DBFS = -4.5  # leaves room for the encoder's small overshoot: the file stays below -3 dBFS
OUT = Path(__file__).resolve().parent / "regency_air.ogg"

CHORDS = {"I": "1 3 5", "ii": "2 4 6", "iii": "3 5 7", "IV": "4 6 1'", "V": "5 7 2'", "vi": "6 1' 3'", "V7": "5 7 2' 4'"}
# 32 bars: an eight-bar phrase answered by a cadence, then a second strain that turns back to the start
HARMONY = ("I vi IV V I vi ii V  I vi IV V IV V I I  IV I ii V vi iii IV V  I vi IV V IV V I V7").split()
MELODY = """
5:2 3:1 | 6:2 1':1 | 1':1 6:1 4:1 | 5:2 2:1 | 3:1 5:1 1':1 | 1':2 6:1 | 4:1 6:1 2':1 | 7:2 5:1 |
5:2 3:1 | 6:2 1':1 | 4:1 6:1 1':1 | 2':2 7:1 | 1':1 6:1 4:1 | 5:1 7:1 2':1 | 3':1 2':1 1':1 | 1':3 |
6:2 4:1 | 5:2 3:1 | 4:1 6:1 2':1 | 1':2 7:1 | 1':2 6:1 | 7:2 5:1 | 6:1 1':1 6:1 | 5:3 |
3':2 2':1 | 1':2 6:1 | 1':1 6:1 4:1 | 7:1 2':1 5:1 | 6:1 4:1 6:1 | 5:1 7:1 2':1 | 1':2 5:1 | 7,:1 2:1 4:1
"""


def midi(degree: str, octave: int = 0) -> int:
    """MIDI number of a scale degree written like 5, 1' (an octave up) or 7, (an octave down)."""
    number = int(degree.rstrip("',"))
    shift = degree.count("'") - degree.count(",") + octave + (number - 1) // 7
    return TONIC + SCALE[(number - 1) % 7] + 12 * shift


def pluck(note: int, seconds: float, velocity: float) -> np.ndarray:
    """One harpsichord-like pluck: bright decaying partials, a soft attack and a damped release."""
    freq = 440.0 * 2 ** ((note - 69) / 12)
    n = int((seconds + 0.08) * RATE)
    t = np.arange(n) / RATE
    tau = 1.6 * (220.0 / freq) ** 0.45  # low strings ring longer
    out = np.zeros(n)
    for k in range(1, 13):
        partial = freq * k * np.sqrt(1 + 0.00008 * k * k)  # a touch of string stiffness
        if partial > 0.45 * RATE:
            break
        level = abs(np.sin(np.pi * k / 7.3)) / k**0.9 * np.exp(-k / 5)  # plucked near the end, softened
        out += level * np.exp(-t * (1 + 0.45 * (k - 1)) / tau) * np.sin(2 * np.pi * partial * t)
    envelope = np.minimum(1.0, t / 0.004)  # 4 ms attack: no click
    release = t > seconds  # the damper falls: a 80 ms cosine fade
    envelope[release] *= 0.5 + 0.5 * np.cos(np.pi * np.minimum(1, (t[release] - seconds) / 0.08))
    return velocity * out * envelope


def score() -> list[tuple[float, float, int, float, float]]:
    """Every note as (start beat, length in beats, MIDI note, velocity, pan from -1 left to 1 right)."""
    notes = []
    for bar, (name, written) in enumerate(zip(HARMONY, MELODY.replace("\n", " ").split("|"))):
        start = bar * 3.0
        tones = [midi(d) for d in CHORDS[name].split()]
        notes.append((start, 2.5, tones[0] - 24, 0.55, -0.4))  # bass on the downbeat
        arpeggio = (tones + [tones[0] + 12])[:4]  # a triad's octave, or the dominant's seventh
        for i, pick in enumerate((0, 2, 1, 2, 3, 2)):  # broken chord in eighths, an octave down
            notes.append((start + 0.5 * i, 0.5, arpeggio[pick] - 12, 0.22 if i % 2 else 0.3, -0.1))
        beat = start
        for token in written.split():
            degree, length = token.split(":")
            notes.append((beat, float(length) * 0.9, midi(degree), 0.62, 0.35))
            beat += float(length)
    return notes


def render() -> np.ndarray:
    """The whole air as a seamless stereo loop: tails and echoes that run past the end wrap to the start."""
    rng = np.random.default_rng(1813)  # humanising and the room's echo, the same on every run
    beat_s = 60.0 / TEMPO
    length = int(round(len(HARMONY) * 3 * beat_s * RATE))
    mix = np.zeros((2, length))
    for start, beats, note, velocity, pan in score():
        onset = int(round((start * beat_s + rng.normal(0, 0.004)) * RATE)) % length
        sound = pluck(note, beats * beat_s, velocity * rng.uniform(0.9, 1.05))
        idx = (onset + np.arange(len(sound))) % length
        for ch, gain in enumerate((np.sqrt(0.5 * (1 - pan)), np.sqrt(0.5 * (1 + pan)))):
            np.add.at(mix[ch], idx, gain * sound)
    room_t = np.arange(int(1.6 * RATE)) / RATE
    for ch in range(2):  # a small hall: decaying noise, convolved circularly so the loop stays seamless
        ir = rng.normal(0, 1, room_t.size) * np.exp(-room_t / 0.35) * np.minimum(1, room_t / 0.01)
        ir = np.convolve(ir, np.ones(6) / 6, mode="same")  # darker echoes
        ir[0] = 0.0
        wet = np.fft.irfft(np.fft.rfft(mix[ch]) * np.fft.rfft(ir, n=length), n=length)
        mix[ch] = mix[ch] + 0.25 * wet / np.abs(ir).sum() * 40
    mix -= mix.mean(axis=1, keepdims=True)
    return (mix / np.abs(mix).max() * 10 ** (PEAK_DBFS / 20)).T


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def fixed_serial(ogg: bytes, serial: int = 1813) -> bytes:
    """The Ogg stream with its random serial number replaced by a fixed one, so every run writes the same bytes."""
    out, pos = bytearray(), 0
    while pos < len(ogg):
        segments = ogg[pos + 26]
        size = 27 + segments + sum(ogg[pos + 27 : pos + 27 + segments])
        page = bytearray(ogg[pos : pos + size])
        page[14:18], page[22:26] = serial.to_bytes(4, "little"), bytes(4)
        page[22:26] = _ogg_crc(page).to_bytes(4, "little")
        out += page
        pos += size
    return bytes(out)


def main() -> Path:
    """Write the loop as OGG Vorbis next to this script and return its path."""
    import io

    import soundfile

    data, buffer = render().astype(np.float32), io.BytesIO()
    # written in blocks: one big write overflows libvorbis's stack (libsndfile/libsndfile#1095)
    with soundfile.SoundFile(buffer, "w", RATE, data.shape[1], format="OGG", subtype="VORBIS") as out:
        for start in range(0, len(data), 8192):
            out.write(data[start : start + 8192])
    OUT.write_bytes(fixed_serial(buffer.getvalue()))
    return OUT


if __name__ == "__main__":
    print(main())
