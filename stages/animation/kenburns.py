"""Ken Burns animator: a smooth, sub-pixel pan or zoom over the still, encoded straight to H.264."""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from stages.backend import Backend
from stages.contracts import AnimationRequest, AnimationResult, Frozen
from stages.errors import InputError
from stages.media import FrameWriter, rgb_to_ycbcr, x264_args

# Phrases of a shot's ``motion`` and the camera move they name; the first match wins.
MOTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pull out", "zoom out", "pull back"), "out"),
    (("push in", "zoom in"), "in"),
    (("pan left",), "left"),
    (("pan right",), "right"),
    (("drift up", "tilt up", "pan up"), "up"),
    (("drift down", "tilt down", "pan down"), "down"),
)

# Clips are intermediates the stitch decodes again, so they trade bytes for encoder time: x264's ultrafast
# preset (no CABAC, deblocking, lookahead or adaptive quantisation) plus fixed B-frames encodes a pan ~1.2 ms
# a frame faster than veryfast with fast-decode settings, decodes ~0.1 ms slower and is closer to the source
# (SSIM 0.9962 vs 0.9951 at CRF 18) in ~3x the bytes.
CLIP_PRESET = "ultrafast"
CLIP_X264 = "bframes=3:b-adapt=0"
MARGIN = 512  # replicated pixels around each plane: room for sample_view to start early
ALIGN_SEARCH = 256  # extra output pixels sample_view may try
ALIGN_TOLERANCE = 1.0 / 128.0  # plane pixels: how far sample_view's origin may sit from the true one


class KenBurnsOptions(Frozen):
    """How far the camera travels and how the clip is encoded."""

    zoom: float = Field(default=0.12, ge=0.0, le=0.5, description="camera travel: how much closer the near end of "
                                                                   "a push or pull is (0.12 = 12 %), and how far a pan "
                                                                   "moves")
    crf: int = Field(default=18, ge=0, le=51, description="x264 quality of a clip; lower is finer and bigger")
    preset: str = Field(CLIP_PRESET, description="x264 preset; clips are intermediates the stitch decodes again, so "
                                                 "speed over bytes")
    x264_params: str = Field(CLIP_X264, description="x264 settings on top of the preset (fixed B-frames)")


@dataclass(frozen=True)
class Camera:
    """A view of the base image: base pixels per output pixel and the view centre in base pixels."""

    scale: float
    cx: float
    cy: float

    def toward(self, other: Camera, s: float) -> Camera:
        """The camera a fraction ``s`` of the way to ``other``."""
        return Camera(*(a + (b - a) * s for a, b in
                        ((self.scale, other.scale), (self.cx, other.cx), (self.cy, other.cy))))


def motion_kind(words: str) -> str:
    """The camera move named by a shot's motion words ("in" when none is recognised)."""
    text = " ".join(words.lower().split())
    for phrases, kind in MOTIONS:
        if any(phrase in text for phrase in phrases):
            return kind
    return "in"


def plan_move(kind: str, seed: int, zoom: float, base: tuple[int, int], out: tuple[int, int]) -> tuple[Camera, Camera]:
    """Start and end cameras of a move; both views stay inside the base image, as does every view between."""
    rng = random.Random(seed)
    (bw, bh), (w, h) = base, out
    wide = min(bw / w, bh / h)
    tight = wide / (1.0 + zoom * rng.uniform(0.85, 1.0))
    mx, my = bw / 2.0, bh / 2.0

    def slack(scale: float) -> tuple[float, float]:
        return (bw - w * scale) / 2.0, (bh - h * scale) / 2.0

    sx, sy = slack(tight)
    ox, oy = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)
    if kind in ("in", "out"):
        near = Camera(tight, mx + ox * sx, my + oy * sy)
        far = Camera(wide, mx, my)
        return (far, near) if kind == "in" else (near, far)
    reach = rng.uniform(0.85, 1.0)
    if kind in ("left", "right"):
        travel = reach * min(sx, zoom * w * tight / 2.0)
        sign = 1.0 if kind == "right" else -1.0
        return Camera(tight, mx - sign * travel, my + oy * sy), Camera(tight, mx + sign * travel, my + oy * sy)
    travel = reach * min(sy, zoom * h * tight / 2.0)
    sign = 1.0 if kind == "down" else -1.0
    return Camera(tight, mx + ox * sx, my - sign * travel), Camera(tight, mx + ox * sx, my + sign * travel)


def smoothstep(p: float) -> float:
    """Ease in and out: zero speed at both ends."""
    p = min(max(p, 0.0), 1.0)
    return p * p * (3.0 - 2.0 * p)


def aligned_origin(edge: float, step: float) -> tuple[int, int] | None:
    """``(m, start)``: the fewest extra output pixels ``m`` such that ``start = edge - m * step`` lies within
    ALIGN_TOLERANCE of a whole plane pixel (and inside the plane), or None when no ``m`` up to ALIGN_SEARCH does."""
    import numpy as np

    extra = np.arange(min(ALIGN_SEARCH, int(edge / step) + 1))
    starts = edge - extra * step
    near = np.flatnonzero(np.abs(starts - np.round(starts)) <= ALIGN_TOLERANCE)
    return (int(near[0]), int(round(starts[near[0]]))) if len(near) else None


def sample_view(planes: Sequence[Any], step: float, left: float, top: float, size: tuple[int, int]) -> list[Any]:
    """Bilinear samples of each plane (padded by MARGIN) at ``(left + (x + 0.5) * step - 0.5, top + (y + 0.5) *
    step - 0.5)`` for every output pixel ``(x, y)`` of ``size``; ``left`` and ``top`` in unpadded plane pixels.

    A scale-and-shift view is separable: cv2.resize samples it in ~0.6 of warpAffine's time (with the crop), but
    only from a whole-pixel origin. So the resize starts ``m`` output pixels early, from the first whole plane pixel
    within ALIGN_TOLERANCE of where those ``m`` pixels would begin, and cuts them off. A step that no ``m`` fits
    (a whole or simple ratio, a view at the plane's edge) or too close to 1 to resize takes warpAffine."""
    import cv2
    import numpy as np

    w, h = size
    along_x, along_y = aligned_origin(left + MARGIN, step), aligned_origin(top + MARGIN, step)
    if along_x is not None and along_y is not None:
        (mx, x0), (my, y0) = along_x, along_y
        width, height = math.ceil((mx + w) * step) + 3, math.ceil((my + h) * step) + 3
    # cv2.resize copies a region whose scaled size rounds back to its own: a step that close to 1 takes warpAffine
    if along_x is None or along_y is None or (abs(width / step - width) < 1 and abs(height / step - height) < 1):
        matrix = np.array([[step, 0.0, left + MARGIN + step / 2 - 0.5], [0.0, step, top + MARGIN + step / 2 - 0.5]])
        return [cv2.warpAffine(plane, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE) for plane in planes]
    views = []
    for plane in planes:
        wide = cv2.resize(plane[y0:y0 + height, x0:x0 + width], None, fx=1.0 / step, fy=1.0 / step,
                          interpolation=cv2.INTER_LINEAR)
        views.append(np.ascontiguousarray(wide[my:my + h, mx:mx + w]))
    return views


def load_base(path: Path, zoom: float, out: tuple[int, int]) -> list[Any]:
    """The still as Y, Cb and Cr planes (uint8), scaled to cover the frame at the closest zoom, each padded by
    MARGIN replicated pixels."""
    import cv2
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read the still {path}: {exc}") from exc
    ih, iw = rgb.shape[:2]
    scale = max(out[0] * (1.0 + zoom) / iw, out[1] * (1.0 + zoom) / ih)
    size = (max(out[0], int(np.ceil(iw * scale))), max(out[1], int(np.ceil(ih * scale))))
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    yuv = np.clip(rgb_to_ycbcr(rgb) + 0.5, 0, 255).astype(np.uint8)
    return [cv2.copyMakeBorder(np.ascontiguousarray(yuv[..., c]), MARGIN, MARGIN, MARGIN, MARGIN,
                               cv2.BORDER_REPLICATE) for c in range(3)]


class KenBurnsAnimator(Backend):
    """Animate a still with an eased pan or zoom chosen from the shot's motion words."""

    name = "kenburns"
    version = "2"  # views sampled by a separable resize (origin within 1/128 pixel)
    Options = KenBurnsOptions
    options: KenBurnsOptions
    packages = ("cv2", "numpy", "PIL", "imageio_ffmpeg")

    def animate(self, request: AnimationRequest, out_path: Path) -> AnimationResult:
        """Render round(duration * fps) frames of the moving still into ``out_path`` (MP4)."""
        fmt, opts = request.format, self.options
        out = (fmt.width, fmt.height)
        if fmt.width % 2 or fmt.height % 2:
            raise InputError(f"frame size {fmt.width}x{fmt.height} must be even for yuv420p video")
        frames = max(1, round(request.duration * fmt.fps))
        planes = load_base(request.image_path, opts.zoom, out)
        base = (planes[0].shape[1] - 2 * MARGIN, planes[0].shape[0] - 2 * MARGIN)
        start, end = plan_move(motion_kind(request.motion), request.seed, opts.zoom, base, out)
        chroma = (fmt.width // 2, fmt.height // 2)
        encode = x264_args(opts.preset, opts.crf, opts.x264_params)
        with FrameWriter(out_path, out, fmt.fps, encode, pix_fmt="yuv420p") as writer:
            for i in range(frames):
                cam = start.toward(end, smoothstep(i / (frames - 1) if frames > 1 else 0.0))
                left, top = cam.cx - cam.scale * fmt.width / 2.0, cam.cy - cam.scale * fmt.height / 2.0
                writer.write(*sample_view(planes[:1], cam.scale, left, top, out),
                             *sample_view(planes[1:], 2.0 * cam.scale, left, top, chroma))
        return AnimationResult(path=out_path, duration=frames / fmt.fps)
