"""Benchmark the stitch stage alone on a film already made: wall and CPU seconds, film seconds per wall second.

    .venv/bin/python benchmarks/bench_stitch.py [--film out/pride] [--workers 2]

Rebuilds the stitch request from the film's manifest and cache, renders it with no segment cache (every
segment encoded), and prints wall time, CPU time of this process and its ffmpeg children, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.assets import FONT_SANS_BOLD  # noqa: E402
from stages.contracts import StitchRequest, StitchShot, Timing, VideoFormat  # noqa: E402
from stages.stitch.moviepy_stitch import MoviepyStitcher  # noqa: E402


def request_of(film: Path, workers: int) -> StitchRequest:
    """The stitch request of the film in ``film`` (its manifest and cached clips and narration)."""
    manifest = json.loads((film / "manifest.json").read_text())
    cache = film / ".film" / "cache"
    shots = []
    for shot in manifest["shots"]:
        arts = shot["artifacts"]
        clip = json.loads((cache / "animation" / f"{arts['animation']['key']}.json").read_text())
        voice = json.loads((cache / "narration" / f"{arts['narration']['key']}.json").read_text())
        shots.append(StitchShot(
            number=shot["shot"], clip_path=film / arts["animation"]["path"], clip_duration=clip["result"]["duration"],
            audio_path=film / arts["narration"]["path"], audio_duration=voice["result"]["duration"],
            timings=tuple(Timing(**t) for t in voice["result"]["timings"])))
    fmt = manifest.get("format") or {"width": 1280, "height": 720, "fps": 24}
    music = Path(__file__).resolve().parents[1] / "assets" / "music" / "regency_air.ogg"
    return StitchRequest(shots=tuple(shots), format=VideoFormat(**fmt), crossfade=0.4, subtitles=True,
                         font_path=FONT_SANS_BOLD, music_path=music, music_gain_db=-20.0, loudness_lufs=-16.0,
                         workers=workers, segment_cache=None)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    """Stitch once and report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--film", type=Path, default=Path("out/pride"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    request = request_of(args.film, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        cpu, started = cpu_seconds(), time.perf_counter()
        result = MoviepyStitcher().stitch(request, Path(tmp) / "film.mp4", Path(tmp) / "film.srt")
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"stitch: {result.duration:.1f} s of film in {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({result.duration / wall:.2f}x realtime, {cpu / wall:.2f} cores busy)")


if __name__ == "__main__":
    main()
