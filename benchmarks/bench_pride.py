"""Benchmark the pride film: cold make, no-op rerun, one-shot edit, the stitch against raw ffmpeg.

    .venv/bin/python benchmarks/bench_pride.py [--project projects/pride.yaml] [--out /tmp/film-bench]

Prints film seconds per wall second, per-stage wall time, the stitch against a raw-ffmpeg encode of
the same frames (the floor), and peak RSS. Targets on 2 cores: >=3x realtime cold, no-op rerun
<=3 s, one-shot edit <=15 % of cold.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml


def film(project: Path, out: Path, *flags: str) -> float:
    """Run `film make` in a fresh process; returns its wall time."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out), *flags], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def stage_walls(out: Path) -> dict[str, float]:
    """Per stage, from the first of its jobs starting to the last finishing, in this run."""
    manifest = json.loads((out / "manifest.json").read_text())
    spans: dict[str, list[float]] = {}
    cache = out / ".film" / "cache"
    arts = [art for shot in manifest["shots"] for art in shot["artifacts"].items()]
    arts += [("stitch", manifest["stitch"])] if manifest.get("stitch") else []
    for stage, art in arts:
        if not art["computed"]:
            continue
        record = json.loads((cache / stage / f"{art['key']}.json").read_text())
        span = spans.setdefault(stage, [float("inf"), 0.0])
        span[0] = min(span[0], record["finished_at"] - record["wall_s"])
        span[1] = max(span[1], record["finished_at"])
    return {stage: round(end - start, 1) for stage, (start, end) in spans.items()}


def ffmpeg_floor(video: Path) -> float:
    """Wall time of re-encoding the film's frames with raw ffmpeg: the stitcher's codec settings, 2 threads."""
    import imageio_ffmpeg

    from stages.media import x264_params
    from stages.stitch.moviepy_stitch import MoviepyOptions

    codec = MoviepyOptions()
    started = time.perf_counter()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-an", "-c:v", "libx264",
                    "-preset", codec.preset, "-crf", str(codec.crf), "-x264-params", x264_params(codec.x264_params),
                    "-threads", "2", "-f", "mp4", "/dev/null"], check=True)
    return time.perf_counter() - started


def edit_one_prompt(out: Path) -> None:
    """Change the image prompt of the fourth shot, as a user would."""
    path = out / "screenplay.yaml"
    data = yaml.safe_load(path.read_text())
    shots = [s for scene in data["scenes"] for s in scene["shots"]]
    shots[3]["image_prompt"] += " Candlelight."
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def main() -> None:
    """Run the three measurements and print a report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, default=Path("projects/pride.yaml"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/film-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cold = film(args.project, args.out)
    summary = json.loads((args.out / "manifest.json").read_text())["summary"]
    seconds = summary["film_seconds"]
    walls = stage_walls(args.out)
    floor = ffmpeg_floor(args.out / "film.mp4")
    noop = film(args.project, args.out)
    edit_one_prompt(args.out)
    edit = film(args.project, args.out)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"film: {seconds:.1f} s, {len(json.loads((args.out / 'manifest.json').read_text())['shots'])} shots")
    print(f"cold make:      {cold:6.1f} s wall  -> {seconds / cold:.2f} film s per wall s (target >= 3)")
    print(f"no-op rerun:    {noop:6.1f} s wall  (target <= 3 s)")
    print(f"one-shot edit:  {edit:6.1f} s wall  -> {100 * edit / cold:.0f} % of cold (target <= 15 %)")
    print("stage wall (first job start to last job end, cold run): " + ", ".join(f"{k} {v:.1f}s" for k, v in walls.items()))
    if "stitch" in walls:
        print(f"stitch vs raw ffmpeg encode of the same frames: {walls['stitch']:.1f} s vs {floor:.1f} s "
              f"({walls['stitch'] / floor:.2f}x the floor; stitch {seconds / walls['stitch']:.1f}x realtime)")
    print(f"peak RSS of a film process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
