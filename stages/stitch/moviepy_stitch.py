"""moviepy stitcher: shots cut to their narration, dissolved, subtitled and mixed into the finished film.

Segments are rendered in parallel (one moviepy clip and one x264 encode each) and joined with ffmpeg's
concat demuxer without a second encode; the soundtrack is built in numpy meanwhile.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from pydantic import Field

from stages.backend import Backend
from stages.contracts import Frozen, StitchRequest, StitchResult
from stages.errors import StageError
from stages.media import FAST_X264, FrameWriter, run_ffmpeg, x264_args
from stages.stitch import soundtrack
from stages.stitch.frames import SegmentPainter
from stages.stitch.subtitles import Cue, CueRenderer, film_cues, srt_text
from stages.stitch.timeline import Timeline


class MoviepyOptions(Frozen):
    """Encoder settings of the segments and the soundtrack."""

    preset: str = "veryfast"
    crf: int = Field(default=20, ge=0, le=51)
    audio_bitrate: str = "160k"
    x264_params: str = FAST_X264


def join_segments(parts: Sequence[Path], audio: Path, out_path: Path, workdir: Path) -> None:
    """Concatenate H.264 segments and add the AAC soundtrack, both copied without re-encoding."""
    listing = workdir / "segments.txt"
    listing.write_text("".join("file '{}'\n".format(str(p.resolve()).replace("'", "'\\''")) for p in parts))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
                "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(out_path)],
               f"joining {len(parts)} segments into {out_path.name}")


class MoviepyStitcher(Backend):
    """Cut, dissolve, subtitle and mix the shots into one MP4 with a sidecar SRT."""

    name = "moviepy"
    Options = MoviepyOptions
    packages = ("moviepy", "cv2", "numpy", "scipy", "soundfile", "pyloudnorm", "PIL", "imageio_ffmpeg")

    def stitch(self, request: StitchRequest, video_path: Path, srt_path: Path) -> StitchResult:
        """Render the film into ``video_path`` and its subtitles into ``srt_path``."""
        for shot in request.shots:
            for kind, path in (("clip", shot.clip_path), ("narration", shot.audio_path)):
                if not Path(path).is_file():
                    raise StageError(f"shot {shot.number}: {kind} file {path} not found")
        fmt = request.format
        timeline = Timeline.plan([s.audio_duration for s in request.shots], fmt.fps, request.crossfade)
        cues = film_cues((timeline.starts[i], timeline.starts[i + 1], shot.timings)
                         for i, shot in enumerate(request.shots))
        renderer = CueRenderer(request.font_path, (fmt.width, fmt.height)) if request.subtitles else None
        workdir = Path(tempfile.mkdtemp(prefix=".stitch-", dir=Path(video_path).parent))
        cancel = threading.Event()
        try:
            with ThreadPoolExecutor(max_workers=max(1, request.workers)) as pool:
                jobs = [pool.submit(self._render_segment, request, timeline, cues, renderer, span,
                                    workdir / f"segment-{n:04d}.mp4", cancel)
                        for n, span in enumerate(timeline.segments())]
                try:  # the soundtrack is made here while the segments render
                    lufs = self._soundtrack(request, timeline, workdir / "soundtrack.m4a")
                    parts = [job.result() for job in jobs]
                except BaseException:
                    cancel.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            join_segments(parts, workdir / "soundtrack.m4a", Path(video_path), workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        Path(srt_path).write_text(srt_text(cues), encoding="utf-8")
        return StitchResult(video_path=video_path, srt_path=srt_path, duration=timeline.duration, loudness_lufs=lufs)

    def _render_segment(self, request: StitchRequest, timeline: Timeline, cues: Sequence[Cue],
                        renderer: CueRenderer | None, span: tuple[int, int], out_path: Path,
                        cancel: threading.Event) -> Path:
        """Encode film frames [first, stop) of a moviepy clip into one MP4.

        Frames go to x264 as yuv420p converted by OpenCV: moviepy's writer always pipes rgb24, and
        ffmpeg's own rgb24 -> yuv420p conversion costs as much as the encode itself."""
        import cv2
        from moviepy import VideoClip

        fmt, opts = request.format, self.options
        first, stop = span
        size = (fmt.width, fmt.height)
        painter = SegmentPainter(timeline, request.shots, size, cues, renderer)
        try:
            # iter_frames takes int(duration * fps) frames: the half frame guards against float truncation.
            clip = VideoClip(lambda t: painter.frame(first + round(t * fmt.fps)),
                             duration=(stop - first + 0.5) / fmt.fps)
            with FrameWriter(out_path, size, fmt.fps, x264_args(opts.preset, opts.crf, opts.x264_params),
                             pix_fmt="yuv420p") as writer:
                for frame in clip.iter_frames(fps=fmt.fps, dtype="uint8"):
                    if cancel.is_set():
                        raise StageError("stitch cancelled")
                    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420))
        finally:
            painter.close()
        return out_path

    def _soundtrack(self, request: StitchRequest, timeline: Timeline, out_path: Path) -> float:
        """Mix, normalise and encode the soundtrack; returns its integrated loudness."""
        total = round(timeline.total_frames * soundtrack.RATE / timeline.fps)  # exactly as long as the picture
        starts = timeline.starts
        voices = [(shot.audio_path, starts[i]) for i, shot in enumerate(request.shots)]
        pcm = soundtrack.narration_track(voices, total)[:, None]
        if request.music_path is not None:
            spans = [(starts[i] + t.start, starts[i] + t.end) for i, s in enumerate(request.shots) for t in s.timings]
            spans += [(starts[i], starts[i + 1]) for i, s in enumerate(request.shots) if not s.timings]
            pcm = pcm + soundtrack.music_bed(request.music_path, total, request.music_gain_db, spans)
        pcm, lufs = soundtrack.normalise(pcm, request.loudness_lufs)
        soundtrack.encode_aac(pcm, out_path, self.options.audio_bitrate)
        return lufs
