"""Ken Burns animator: exact frame count and size, smooth sub-pixel motion, direction from the motion words."""
from __future__ import annotations

from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from stages.animation.kenburns import (ALIGN_TOLERANCE, MARGIN, KenBurnsAnimator, KenBurnsOptions, aligned_origin,
                                       motion_kind, plan_move, sample_view)
from stages.contracts import AnimationRequest, VideoFormat
from stages.errors import InputError, StageError

FMT = VideoFormat(width=320, height=180, fps=12)


def decode(path: Path) -> np.ndarray:
    """All frames of a video as (n, h, w, 3) uint8."""
    frames = imageio_ffmpeg.read_frames(str(path))
    width, height = next(frames)["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in frames])


def shifts(frames: np.ndarray) -> np.ndarray:
    """(dx, dy) of each frame against the one before it: motion of the brightness centroid (sub-pixel)."""
    weight = np.clip(frames.mean(axis=3) - 40.0, 0, None)
    ys, xs = np.mgrid[0:frames.shape[1], 0:frames.shape[2]]
    mass = weight.sum(axis=(1, 2))
    centre = np.stack([(weight * xs).sum(axis=(1, 2)) / mass, (weight * ys).sum(axis=(1, 2)) / mass], axis=1)
    return np.diff(centre, axis=0)


def animate(still: Path, out: Path, motion: str, duration: float = 2.0, **options) -> np.ndarray:
    request = AnimationRequest(image_path=still, duration=duration, motion=motion, format=FMT, seed=1)
    result = KenBurnsAnimator(KenBurnsOptions(**options)).animate(request, out)
    assert result.path == out and result.duration == pytest.approx(round(duration * FMT.fps) / FMT.fps)
    return decode(out)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """Soft bright blobs on a dark still, placed so that every view of every move keeps them whole."""
    ys, xs = np.mgrid[0:240, 0:400].astype(np.float32)
    image = np.full((240, 400), 20.0, np.float32)
    for x, y in ((150, 95), (250, 100), (200, 130), (170, 150), (235, 85)):
        image += 200.0 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 7.0 ** 2))
    path = tmp_path_factory.mktemp("stills") / "blobs.png"
    Image.fromarray(np.dstack([image.clip(0, 255).astype(np.uint8)] * 3)).save(path)
    return path


@pytest.fixture(scope="module")
def disc(tmp_path_factory) -> Path:
    """A bright disc in the middle of a dark still: its area tells zoom in from zoom out."""
    image = np.full((240, 400, 3), 30, np.uint8)
    cv2.circle(image, (200, 120), 40, (230, 230, 230), -1)
    path = tmp_path_factory.mktemp("stills") / "disc.png"
    Image.fromarray(image).save(path)
    return path


def test_frame_count_and_size_exact(blobs: Path, tmp_path: Path) -> None:
    for duration, expected in ((1.5, 18), (1.04, 12), (0.05, 1)):
        frames = animate(blobs, tmp_path / f"{duration}.mp4", "push in", duration)
        assert frames.shape == (expected, FMT.height, FMT.width, 3)


def wobble(steps: np.ndarray) -> float:
    """Largest departure of per-frame displacements from a smooth (cubic) curve, in pixels."""
    k = np.arange(len(steps))
    return float(np.abs(steps - np.polyval(np.polyfit(k, steps, 3), k)).max())


def test_pan_is_smooth_and_sub_pixel(blobs: Path, tmp_path: Path) -> None:
    # Near-lossless so that we measure the motion, not the encoder's quantisation.
    dx, dy = shifts(animate(blobs, tmp_path / "pan.mp4", "slow pan right", crf=8)).T
    n = len(dx)
    assert (dx < 0.05).all(), "panning right moves the picture left in every frame"
    assert np.abs(dy).max() < 0.2
    middle = np.abs(dx[n // 5: n - n // 5])
    assert middle.min() > 0.3, "no static frame pair in the middle of the move"
    assert wobble(dx) < 0.15, "displacement varies smoothly from frame to frame"
    assert wobble(np.diff(np.round(np.cumsum(dx)))) > 0.3, "whole-pixel steps of the same move would fail"
    assert (np.abs(middle - np.round(middle)) > 0.1).sum() >= len(middle) // 2, "steps are sub-pixel"
    assert abs(dx[0]) < abs(dx[n // 2]) / 3 and abs(dx[-1]) < abs(dx[n // 2]) / 3, "eased in and out"


@pytest.mark.parametrize("motion, axis, sign", [
    ("pan left", 0, 1), ("pan right", 0, -1), ("drift up", 1, 1), ("drift down", 1, -1),
])
def test_pans_and_drifts_move_the_right_way(blobs: Path, tmp_path: Path, motion: str, axis: int, sign: int) -> None:
    total = shifts(animate(blobs, tmp_path / "m.mp4", motion, 1.5)).sum(axis=0)
    assert sign * total[axis] > 5.0
    assert abs(total[1 - axis]) < abs(total[axis]) / 3


def test_push_in_and_pull_out_zoom_opposite_ways(disc: Path, tmp_path: Path) -> None:
    def area(frame: np.ndarray) -> int:
        return int((frame[..., 0] > 128).sum())

    push = animate(disc, tmp_path / "in.mp4", "push in", 1.5)
    pull = animate(disc, tmp_path / "out.mp4", "zoom out", 1.5)
    assert area(push[-1]) / area(push[0]) > 1.15
    assert area(pull[-1]) / area(pull[0]) < 1 / 1.15


def test_motion_words() -> None:
    assert motion_kind("Slow PUSH in") == "in"
    assert motion_kind("gentle zoom out over the hills") == "out"
    assert motion_kind("pan left") == "left"
    assert motion_kind("pan right across the room") == "right"
    assert motion_kind("drift up") == "up"
    assert motion_kind("tilt down") == "down"
    assert motion_kind("static") == "in"


@pytest.mark.parametrize("base", [(359, 202), (600, 202), (359, 500)])
def test_every_view_stays_inside_the_image(base: tuple[int, int]) -> None:
    w, h = FMT.width, FMT.height
    for kind in ("in", "out", "left", "right", "up", "down"):
        for seed in range(25):
            for cam in plan_move(kind, seed, 0.12, base, (w, h)):
                assert cam.scale >= 1.0 - 1e-9
                assert cam.cx - w * cam.scale / 2 >= -1e-9 and cam.cx + w * cam.scale / 2 <= base[0] + 1e-9
                assert cam.cy - h * cam.scale / 2 >= -1e-9 and cam.cy + h * cam.scale / 2 <= base[1] + 1e-9


def test_seed_varies_the_move_subtly(blobs: Path, tmp_path: Path) -> None:
    a = animate(blobs, tmp_path / "a.mp4", "pan right", 1.0)
    request = AnimationRequest(image_path=blobs, duration=1.0, motion="pan right", format=FMT, seed=2)
    KenBurnsAnimator().animate(request, tmp_path / "b.mp4")
    b = decode(tmp_path / "b.mp4")
    assert a.shape == b.shape and not np.array_equal(a[-1], b[-1])


def test_unreadable_still_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(InputError, match="broken.png"):
        animate(bad, tmp_path / "x.mp4", "push in")


def test_encoder_failure_carries_ffmpeg_message(blobs: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    with pytest.raises(StageError, match="(?s)x.mp4.*nonsense"):
        animate(blobs, out, "push in", preset="nonsense")
    assert not out.exists()


def exact_view(plane: np.ndarray, step: float, left: float, top: float, size: tuple[int, int]) -> np.ndarray:
    """The bilinear samples sample_view promises, computed in float64 from the unpadded plane."""
    w, h = size
    xs, ys = left + (np.arange(w) + 0.5) * step - 0.5, top + (np.arange(h) + 0.5) * step - 0.5
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    p = plane.astype(np.float64)

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return p[np.clip(yy, 0, p.shape[0] - 1)[:, None], np.clip(xx, 0, p.shape[1] - 1)[None, :]]

    top_row = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom_row = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top_row * (1 - fy)[:, None] + bottom_row * fy[:, None]


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A detailed plane: blurred noise plus hard edges."""
    plane = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (260, 420), dtype=np.uint8), (0, 0), 1.5)
    plane[100:104, :] = 250
    plane[:, 200:202] = 5
    return plane


def test_views_are_the_exact_bilinear_samples(texture: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    padded = cv2.copyMakeBorder(texture, MARGIN, MARGIN, MARGIN, MARGIN, cv2.BORDER_REPLICATE)
    fast = 0
    for _ in range(60):
        size = (int(rng.integers(8, 60)) * 2, int(rng.integers(8, 40)) * 2)
        step = rng.uniform(1.0, 1.5) * (2.0 if rng.random() < 0.5 else 1.0)  # luma and chroma steps
        left = rng.uniform(0, texture.shape[1] - size[0] * step)
        top = rng.uniform(0, texture.shape[0] - size[1] * step)
        fast += aligned_origin(left + MARGIN, step) is not None and aligned_origin(top + MARGIN, step) is not None
        (view,) = sample_view([padded], step, left, top, size)
        assert view.shape == size[::-1] and view.dtype == np.uint8 and view.flags.c_contiguous
        error = np.abs(view - exact_view(texture, step, left, top, size))
        # a 1/128-pixel origin and fixed-point weights: under 2 levels at hard edges; rounding (0.25) elsewhere
        assert error.max() <= 2.0 and error.mean() < 0.32
    assert fast >= 55, "most views take the resize"


@pytest.mark.parametrize("step, left, top, size", [
    (1.0, 10.5, 20.25, (64, 40)), (2.0, 7.25, 20.25, (64, 40)), (1.25, 3.6, 20.25, (64, 40)),  # no whole-pixel start
    (1.0110793427260085, 193.0277204803196, 66.23364667052176, (52, 46)),  # cv2.resize would copy it unscaled
])
def test_whole_simple_and_near_one_steps_take_the_exact_warp(texture: np.ndarray, step: float, left: float, top: float,
                                                           size: tuple[int, int]) -> None:
    padded = cv2.copyMakeBorder(texture, MARGIN, MARGIN, MARGIN, MARGIN, cv2.BORDER_REPLICATE)
    (view,) = sample_view([padded], step, left, top, size)
    assert np.abs(view - exact_view(texture, step, left, top, size)).max() <= 1.0


def test_aligned_origin_starts_early_on_a_whole_pixel() -> None:
    extra, start = aligned_origin(300.4, 1.1)
    assert start == round(300.4 - extra * 1.1) and abs(300.4 - extra * 1.1 - start) <= ALIGN_TOLERANCE
    assert all(abs(300.4 - m * 1.1 - round(300.4 - m * 1.1)) > ALIGN_TOLERANCE for m in range(extra))
    assert aligned_origin(0.5, 1.1) is None, "never starts outside the plane"
