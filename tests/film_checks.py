"""Helpers the end-to-end tests use to look inside a made film: streams, durations, loudness, manifest."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np

FFMPEG = None


def ffmpeg() -> str:
    """The ffmpeg binary imageio-ffmpeg ships."""
    global FFMPEG
    if FFMPEG is None:
        import imageio_ffmpeg

        FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
    return FFMPEG


def stream_info(path: Path) -> str:
    """ffmpeg's description of the file's streams (stderr of `ffmpeg -i`)."""
    return subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def video_frames(path: Path) -> int:
    """Number of decoded video frames."""
    out = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v", "-f", "null", "-c:v", "rawvideo", "-", "-stats"], capture_output=True, text=True).stderr
    counts = re.findall(r"frame=\s*(\d+)", out)
    return int(counts[-1])


def decode_audio(path: Path, rate: int = 48000) -> np.ndarray:
    """The audio track as float32 samples, (n, channels)."""
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-ac", "2", "-ar", str(rate), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


def loudness(samples: np.ndarray, rate: int = 48000) -> float:
    """Integrated loudness in LUFS."""
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def srt_cues(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each SRT cue."""
    def secs(stamp: str) -> float:
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    cues = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.splitlines()
        start, end = (secs(x.strip()) for x in lines[1].split("-->"))
        cues.append((start, end, " ".join(lines[2:])))
    return cues


def manifest(out: Path) -> dict:
    """The run's manifest.json."""
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def computed(out: Path) -> set[tuple[str, int | None]]:
    """Which (stage, shot) artifacts the last run computed rather than reused."""
    data = manifest(out)
    done = {(stage, shot["shot"]) for shot in data["shots"] for stage, art in shot["artifacts"].items() if art["computed"]}
    if data.get("stitch") and data["stitch"]["computed"]:
        done.add(("stitch", None))
    return done
