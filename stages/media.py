"""Shared ffmpeg plumbing: the bundled executable, runs with readable errors and a raw-frame writer."""
from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from stages.errors import StageError

STDERR_TAIL_LINES = 12
PIPE_BYTES = 1 << 20  # raw frames are ~1.4 MB at 720p: a 64 KiB pipe costs ~20 context switches a frame
# On top of a preset: cheaper motion search and partition analysis, fixed B-frames, no scene-cut search, and a
# 5-frame rate-control lookahead (veryfast's 10 costs ~12 % more encoder time for ~0.3 dB at the same size).
# On the subtitled film at CRF 19: 2x faster than plain veryfast at CRF 20, 6 % larger, SSIM 0.994 against 0.995.
FAST_X264 = "me=dia:subme=1:partitions=none:8x8dct=0:weightp=0:b-adapt=0:scenecut=0:rc-lookahead=5"
# BT.601 limited-range RGB -> YCbCr, what ffmpeg assumes for untagged yuv420p.
_YUV_MATRIX = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
_YUV_OFFSET = (16.0, 128.0, 128.0)


def rgb_to_ycbcr(rgb: Any) -> Any:
    """BT.601 limited-range Y, Cb, Cr (float32, last axis) of RGB samples (uint8 or 0-255 floats, last axis)."""
    import numpy as np

    matrix = np.array(_YUV_MATRIX, np.float32).T / 255.0
    return rgb.astype(np.float32) @ matrix + np.array(_YUV_OFFSET, np.float32)


def i420_planes(frame: Any, size: tuple[int, int]) -> tuple[Any, Any, Any]:
    """Views of the Y, U and V planes of one I420 frame held as a (height * 3 / 2, width) uint8 array."""
    w, h = size
    flat = frame.reshape(-1)
    quarter = (w // 2) * (h // 2)
    return (flat[:w * h].reshape(h, w), flat[w * h:w * h + quarter].reshape(h // 2, w // 2),
            flat[w * h + quarter:].reshape(h // 2, w // 2))


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (no system ffmpeg is assumed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def stderr_tail(text: str | bytes, lines: int = STDERR_TAIL_LINES) -> str:
    """The last few non-empty lines of ffmpeg's stderr, for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def widen_pipe(stream: IO[bytes]) -> None:
    """Grow a pipe's kernel buffer to PIPE_BYTES where the system allows it (Linux only; otherwise a no-op)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass


def run_ffmpeg(args: list[str], what: str, stdin: bytes | None = None) -> None:
    """Run ffmpeg with ``args`` fed ``stdin``; on failure raise StageError naming ``what`` with ffmpeg's stderr tail."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "error", *args],
        input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise StageError(f"ffmpeg failed {what}:\n{stderr_tail(proc.stderr)}")


def x264_params(extra: str = "") -> str:
    """The -x264-params of every H.264 file we write: stitchable streams, plus ``extra``."""
    return ":".join(filter(None, ("stitchable=1", extra)))


def x264_args(preset: str, crf: int, extra: str = "") -> list[str]:
    """Output options of an H.264 encode: one encoder thread, yuv420p, our x264 params."""
    return [
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-threads", "1", "-x264-params", x264_params(extra),
    ]


class FrameReader:
    """Decode a video forward into I420 frames at a given size and rate (covering the frame, centre-cropped
    where the aspect differs), one single-threaded ffmpeg process.

    ``frames`` caps how many are decoded: ffmpeg decodes dozens of frames ahead of the reader, all wasted
    when it is closed early, so a reader that knows its need says so."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, frames: int | None = None) -> None:
        w, h = size
        self.path, self.size, self.frame_bytes = Path(path), size, w * h * 3 // 2
        self._log: IO[bytes] = tempfile.TemporaryFile()
        scale = f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},fps={fps}"
        limit = ["-frames:v", str(max(1, frames))] if frames is not None else []
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
               "-i", str(self.path), "-vf", scale, *limit, "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self._out = _widened(self._proc.stdout)

    def read(self) -> Any | None:
        """The next frame as a read-only (height * 3 / 2, width) uint8 array, or None after the last one."""
        import numpy as np

        data = self._out.read(self.frame_bytes)
        if len(data) == self.frame_bytes:
            return np.frombuffer(data, np.uint8).reshape(self.size[1] * 3 // 2, self.size[0])
        if self._proc.wait() != 0:
            self._log.seek(0)
            raise StageError(f"ffmpeg failed reading {self.path} (exit {self._proc.returncode}):\n"
                             f"{stderr_tail(self._log.read())}")
        return None

    def close(self) -> None:
        """Stop the decoder."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._out.close()
        self._log.close()


def _widened(pipe: IO[bytes] | None) -> IO[bytes]:
    """A process's pipe (Popen types it as optional), widened."""
    assert pipe is not None, "the process was started with this pipe"
    widen_pipe(pipe)
    return pipe


class FrameWriter:
    """Pipe raw frames of one pixel format into an ffmpeg encode; a context manager that cleans up on error."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, output_args: list[str],
                 pix_fmt: str = "rgb24") -> None:
        self.path = Path(path)
        self._log: IO[bytes] = tempfile.TemporaryFile()
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "pipe:0",
            *output_args, "-f", "mp4", str(self.path),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self._in = _widened(self._proc.stdin)

    def write(self, *planes: Any) -> None:
        """Send one frame (one contiguous array, or the planes of a planar frame in order)."""
        try:
            for plane in planes:
                self._in.write(memoryview(plane))
        except OSError:  # a broken pipe: ffmpeg stopped
            self._proc.wait()
            self._fail()

    def close(self) -> None:
        """Finish the encode; raise StageError with ffmpeg's stderr tail if it failed."""
        try:
            self._in.close()
        except OSError:
            pass
        if self._proc.wait() != 0:
            self._fail()
        self._log.close()

    def abort(self) -> None:
        """Stop the encode and delete the partial file."""
        self._proc.kill()
        self._proc.wait()
        self._log.close()
        self.path.unlink(missing_ok=True)

    def _fail(self) -> None:
        self._log.seek(0)
        tail = stderr_tail(self._log.read())
        self.abort()
        raise StageError(f"ffmpeg failed writing {self.path.name} (exit {self._proc.returncode}):\n{tail}")

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        elif self._proc.returncode is None:
            self.abort()
