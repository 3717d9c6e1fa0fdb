"""The stitch's I420 frame path: the clip reader and subtitle overlays blended in Y, U and V."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stages.errors import StageError
from stages.media import FrameReader, FrameWriter, i420_planes, rgb_to_ycbcr, x264_args
from stages.stitch.subtitles import Overlay

SIZE = (64, 36)


def test_rgb_to_ycbcr_is_limited_range_bt601():
    ycc = rgb_to_ycbcr(np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8))
    assert np.allclose(ycc[0], (16, 128, 128), atol=0.01)
    assert np.allclose(ycc[1], (235, 128, 128), atol=0.01)
    assert np.allclose(ycc[2], (81.48, 90.20, 240.0), atol=0.01)


def i420(y: int, u: int, v: int, size=SIZE) -> np.ndarray:
    frame = np.empty((size[1] * 3 // 2, size[0]), np.uint8)
    planes = i420_planes(frame, size)
    for plane, value in zip(planes, (y, u, v)):
        plane[...] = value
    return frame


@pytest.mark.parametrize("x,y", [(10, 6), (11, 7)])
def test_overlay_blends_each_plane_only_under_the_cue(x, y):
    rgba = np.zeros((5, 9, 4), np.uint8)
    rgba[1:4, 2:7] = (255, 255, 255, 255)  # opaque white core, transparent border
    frame = i420(16, 128, 128)
    out = Overlay(rgba, x, y, SIZE).apply(frame)
    luma, u, v = i420_planes(out, SIZE)
    assert (frame == i420(16, 128, 128)).all(), "apply must not change its input"
    assert (luma[y + 1:y + 4, x + 2:x + 7] == 235).all()
    untouched = np.ones(luma.shape, bool)
    untouched[y + 1:y + 4, x + 2:x + 7] = False
    assert (luma[untouched] == 16).all()
    assert (u == 128).all() and (v == 128).all()  # white and black carry no colour


def test_overlay_colour_goes_to_the_chroma_planes_at_half_resolution():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[...] = (255, 0, 0, 255)
    out = Overlay(rgba, 8, 4, SIZE).apply(i420(16, 128, 128))
    _, u, v = i420_planes(out, SIZE)
    assert (v[2:4, 4:6] == 240).all() and (u[2:4, 4:6] == 90).all()
    assert v[0:2].max() == 128 and v[:, 6:].max() == 128


def test_overlay_at_the_frame_edge_is_cut_to_the_frame():
    rgba = np.full((10, 20, 4), 255, np.uint8)
    out = Overlay(rgba, SIZE[0] - 5, SIZE[1] - 3, SIZE).apply(i420(16, 128, 128))
    luma = i420_planes(out, SIZE)[0]
    assert (luma[-3:, -5:] == 235).all() and luma[:-3].max() == 16


def write_clip(path: Path, size: tuple[int, int], frames: int) -> None:
    with FrameWriter(path, size, 12, x264_args("veryfast", 4)) as writer:
        for j in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 + 20 * j, np.uint8))


def test_reader_gives_every_frame_at_the_film_size_then_none(tmp_path):
    clip = tmp_path / "wide.mp4"
    write_clip(clip, (96, 36), 5)  # another aspect: scaled to cover and centre-cropped
    reader = FrameReader(clip, SIZE, 12)
    frames = [reader.read() for _ in range(5)]
    assert reader.read() is None
    reader.close()
    lumas = [float(i420_planes(f, SIZE)[0].mean()) for f in frames]
    assert all(f.shape == (SIZE[1] * 3 // 2, SIZE[0]) for f in frames)
    assert lumas == sorted(lumas) and lumas[-1] - lumas[0] > 50


def test_reader_told_its_need_stops_there(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, SIZE, 8)
    reader = FrameReader(clip, SIZE, 12, frames=3)
    first = [reader.read() for _ in range(3)]
    assert reader.read() is None  # the decoder stopped after the three frames asked for
    reader.close()
    assert [round(float(i420_planes(f, SIZE)[0].mean())) for f in first] == \
        [round(float(i420_planes(f, SIZE)[0].mean())) for f in whole_clip(clip)[:3]]


def whole_clip(clip: Path) -> list:
    reader, frames = FrameReader(clip, SIZE, 12), []
    while (frame := reader.read()) is not None:
        frames.append(frame)
    reader.close()
    return frames


def test_reader_of_a_broken_file_names_it(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    reader = FrameReader(broken, SIZE, 12)
    with pytest.raises(StageError, match="broken.mp4"):
        reader.read()
    reader.close()


@pytest.mark.parametrize("frame", [(720, 1280), (480, 640), (1280, 720)])
def test_a_cue_too_wide_for_the_frame_is_drawn_smaller_and_stays_inside_it(frame):
    from stages import assets
    from stages.stitch.subtitles import Cue, CueRenderer

    renderer = CueRenderer(assets.FONT_SANS_BOLD, frame)
    wide = Cue(0.0, 1.0, ("THE SIGN READ WWW.BOULANGERIE-DUFOUR-ET-FILS", "SAINT-HONORE.FR IN GOLD, HE SHOUTED"))
    overlay = renderer.render(wide)
    (x, _), width = overlay.places[0], overlay.premul[0].shape[1]
    assert x > 0 and x + width < frame[0] and width <= 0.9 * frame[0] + 2
