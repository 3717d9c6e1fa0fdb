"""moviepy stitcher: shots cut to their narration, dissolved, subtitled and mixed into the finished film.

Segments are rendered in parallel (one moviepy clip and one x264 encode each) and joined with ffmpeg's
concat demuxer without a second encode; the soundtrack is built in numpy meanwhile. With a segment cache,
segments and soundtracks are kept under a hash of their inputs and reused by later stitches.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import Field

from stages.backend import Backend
from stages.contracts import Frozen, StitchRequest, StitchResult
from stages.errors import StageError
from stages.files import TEMP_MARK, temp_tag, write_atomically
from stages.media import FAST_X264, FrameWriter, run_ffmpeg, x264_args
from stages.stitch import soundtrack
from stages.stitch.cache import FileDigests, check_parts, reuse_or_make, segment_key, soundtrack_key, touch
from stages.stitch.cut import plan_cut
from stages.stitch.frames import SegmentPainter, burned_cues
from stages.stitch.subtitles import Cue, CueRenderer, srt_text
from stages.stitch.timeline import Timeline


class MoviepyOptions(Frozen):
    """Encoder settings of the segments and the soundtrack."""

    preset: str = Field("veryfast", description="x264 preset of the film's segments")
    crf: int = Field(default=19, ge=0, le=51, description="x264 quality of the film; with x264_params' short "
                                                          "lookahead about the size and quality of 20 without it")
    audio_bitrate: str = Field("160k", description="AAC bitrate of the soundtrack")
    x264_params: str = Field(FAST_X264, description="x264 settings on top of the preset: cheap analysis and a "
                                                    "5-frame lookahead, about twice as fast as plain veryfast")


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
    version = "4"  # cues shrunk to fit the frame
    Options = MoviepyOptions
    options: MoviepyOptions
    packages = ("moviepy", "cv2", "numpy", "scipy", "soundfile", "pyloudnorm", "PIL", "imageio_ffmpeg")

    def stitch(self, request: StitchRequest, video_path: Path, srt_path: Path) -> StitchResult:
        """Render the film into ``video_path`` and its subtitles into ``srt_path``."""
        for shot in request.shots:
            for kind, path in (("clip", shot.clip_path), ("narration", shot.audio_path)):
                if not Path(path).is_file():
                    raise StageError(f"shot {shot.number}: {kind} file {path} not found")
        fmt = request.format
        cut = plan_cut(request)
        timeline, cues = cut.timeline, cut.cues
        renderer = CueRenderer(request.font_path, (fmt.width, fmt.height)) if request.subtitles else None
        burned = cues if renderer is not None else [[]] * len(cues)
        segments = timeline.segments()
        frame_cues = [burned_cues(timeline, burned, span) for span in segments]
        mix = self._mix(request, timeline)
        workdir = Path(tempfile.mkdtemp(prefix=f".stitch{TEMP_MARK}{temp_tag()}", dir=Path(video_path).parent))
        cancel = threading.Event()
        try:
            targets, sound = self._places(request, timeline, frame_cues, renderer, mix, workdir)
            with ThreadPoolExecutor(max_workers=max(1, request.workers)) as pool:
                jobs = [pool.submit(self._segment, request, timeline, span, frames, renderer, target, cancel)
                        for span, frames, target in zip(segments, frame_cues, targets)]
                try:  # the soundtrack is made here while the segments render
                    lufs = reuse_or_make(sound, mix.render)
                    parts = [job.result() for job in jobs]
                except BaseException:
                    cancel.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            join_segments(parts, sound, Path(video_path), workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        Path(srt_path).write_text(srt_text(cut.subtitles()), encoding="utf-8")
        return StitchResult(video_path=video_path, srt_path=srt_path, duration=timeline.duration, loudness_lufs=lufs)

    def _places(self, request: StitchRequest, timeline: Timeline, frame_cues: Sequence[Sequence[Cue | None]],
                renderer: CueRenderer | None, mix: soundtrack.Mix, workdir: Path) -> tuple[list[Path], Path]:
        """Where each segment and the soundtrack go: their files in the segment cache, or in ``workdir`` without one."""
        if request.segment_cache is None:
            return [workdir / f"segment-{n:04d}.mp4" for n in range(len(frame_cues))], workdir / "soundtrack.m4a"
        folder = Path(request.segment_cache)
        folder.mkdir(parents=True, exist_ok=True)
        digest, px = FileDigests(), renderer.px if renderer is not None else 0
        encoder = self.options.model_dump(include={"preset", "crf", "x264_params"})
        segments = [folder / f"{segment_key(request, timeline, n, cues, digest, px, encoder)}.mp4"
                    for n, cues in enumerate(frame_cues)]
        sound = folder / f"{soundtrack_key(mix, digest)}.m4a"
        check_parts(request, digest)
        return segments, sound

    def _segment(self, request: StitchRequest, timeline: Timeline, span: tuple[int, int], cues: Sequence[Cue | None],
                 renderer: CueRenderer | None, target: Path, cancel: threading.Event) -> Path:
        """The segment's file at ``target``: reused when it is already there, else rendered into it."""
        if target.is_file():
            touch(target)
            return target
        return write_atomically(target, lambda path: self._render_segment(request, timeline, span, cues, renderer,
                                                                          path, cancel))

    def _render_segment(self, request: StitchRequest, timeline: Timeline, span: tuple[int, int],
                        cues: Sequence[Cue | None], renderer: CueRenderer | None, out_path: Path,
                        cancel: threading.Event) -> None:
        """Encode film frames [first, stop) of a moviepy clip into one MP4.

        Frames are I420 from decode to encode (moviepy's own reader and writer pipe rgb24, and the two
        colour conversions cost as much as the encode itself)."""
        from moviepy import VideoClip

        fmt, opts = request.format, self.options
        first, stop = span
        size = (fmt.width, fmt.height)
        painter = SegmentPainter(timeline, request.shots, size, first, cues, renderer)
        try:
            # iter_frames takes int(duration * fps) frames: the half frame guards against float truncation.
            clip = VideoClip(lambda t: painter.frame(first + round(t * fmt.fps)),
                             duration=(stop - first + 0.5) / fmt.fps)
            with FrameWriter(out_path, size, fmt.fps, x264_args(opts.preset, opts.crf, opts.x264_params),
                             pix_fmt="yuv420p") as writer:
                for frame in clip.iter_frames(fps=fmt.fps, dtype="uint8"):
                    if cancel.is_set():
                        raise StageError("stitch cancelled")
                    writer.write(frame)
        finally:
            painter.close()

    def _mix(self, request: StitchRequest, timeline: Timeline) -> soundtrack.Mix:
        """The soundtrack of the timeline: each narration from its shot's first frame to the next shot's."""
        starts, shots = timeline.starts, request.shots
        speech = [(starts[i] + t.start, starts[i] + t.end) for i, s in enumerate(shots) for t in s.timings]
        speech += [(starts[i], starts[i + 1]) for i, s in enumerate(shots) if not s.timings]
        return soundtrack.Mix(
            voices=tuple((shot.audio_path, starts[i], starts[i + 1]) for i, shot in enumerate(shots)),
            samples=round(timeline.duration * soundtrack.RATE), music=request.music_path,
            music_gain_db=request.music_gain_db, speech=tuple(speech) if request.music_path else (),
            loudness_lufs=request.loudness_lufs, bitrate=self.options.audio_bitrate)
