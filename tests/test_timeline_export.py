"""film.otio and `film export`: a made film's cut, read back through OpenTimelineIO and its FCP7 XML and EDL
adapters, matches the stitcher's timeline to the frame, and its media resolve from a moved copy of the folder."""
from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import opentimelineio as otio
import pytest

from stages.assets import ASSETS_DIR
from stages.stitch.timeline import Timeline
from tests.conftest import run_cli, write_project
from tests.film_checks import manifest, srt_cues, video_frames

MUSIC = ASSETS_DIR / "music" / "regency_air.ogg"
FPS, CROSSFADE = 24, 0.3  # FCP7 XML and EDL count SMPTE timecode, which has 24 fps but not the tests' usual 12


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """A short film with music and crossfades, made once by `film make`: (project file, output folder)."""
    root = tmp_path_factory.mktemp("otio")
    finish = f"{{subtitles: true, crossfade: {CROSSFADE}, loudness_lufs: -16, music: {MUSIC}}}"
    project = write_project(root / "proj", finish=finish, format=f"{{width: 320, height: 180, fps: {FPS}}}")
    code, text = run_cli("make", project, "--out", root / "out")
    assert code == 0, text
    return project, root / "out"


def film_timeline(out: Path) -> Timeline:
    """The stitcher's timeline for the narration lengths the manifest lists."""
    return Timeline.plan([shot["duration"] for shot in manifest(out)["shots"]], FPS, CROSSFADE)


def track(timeline, name: str):
    return next(t for t in timeline.tracks if t.name == name)


def placed_clips(track) -> list[tuple[int, int, int]]:
    """(film frame it starts at, frames it lasts, first frame of its media) of each clip of a track."""
    return [(round(track.range_of_child(c).start_time.value), round(c.source_range.duration.value),
             round(c.source_range.start_time.value)) for c in track.find_clips()]


def cut(tl: Timeline) -> list[tuple[int, int, int]]:
    return [(tl.frames[i], tl.frames[i + 1] - tl.frames[i], 0) for i in range(len(tl.fades))]


@pytest.mark.slow
def test_film_otio_is_the_films_own_cut(made):
    _, out = made
    timeline = otio.adapters.read_from_file(str(out / "film.otio"))
    tl = film_timeline(out)
    shots = track(timeline, "shots")
    assert shots.kind == otio.schema.TrackKind.Video
    assert len(list(shots.find_clips())) == len(manifest(out)["shots"]) == len(tl.fades) > 1
    assert placed_clips(shots) == cut(tl)
    dissolves = [round(item.out_offset.value) for item in shots if isinstance(item, otio.schema.Transition)]
    assert dissolves == list(tl.fades[1:]) and all(f == round(CROSSFADE * FPS) for f in dissolves)
    assert all(item.in_offset.value == 0 for item in shots if isinstance(item, otio.schema.Transition))
    narration, music = track(timeline, "narration"), track(timeline, "music")
    assert narration.kind == music.kind == otio.schema.TrackKind.Audio
    assert placed_clips(narration) == cut(tl)  # each narration starts with its shot
    assert sum(n for _, n, _ in placed_clips(music)) == tl.total_frames  # the bed spans the film
    assert timeline.duration() == otio.opentime.RationalTime(tl.total_frames, FPS)
    assert round(timeline.duration().value) == video_frames(out / "film.mp4")
    cues = srt_cues(out / "film.srt")
    markers = list(timeline.tracks.markers)
    assert len(markers) == len(cues) > 1
    for marker, (start, end, text) in zip(markers, cues):
        assert marker.name == text
        assert abs(marker.marked_range.start_time.to_seconds() - start) <= 0.5 / FPS + 0.001
        assert abs(marker.marked_range.end_time_exclusive().to_seconds() - end) <= 0.5 / FPS + 0.001


@pytest.mark.slow
def test_fcp7_xml_and_edl_read_back_with_the_same_cut(made, tmp_path):
    project, out = made
    tl = film_timeline(out)
    code, text = run_cli("export", project, "--out", out, "--format", "fcp7xml", "-o", tmp_path / "film.xml")
    assert code == 0, text
    xml = otio.adapters.read_from_file(str(tmp_path / "film.xml"), adapter_name="fcp_xml")
    video = next(t for t in xml.tracks if t.kind == otio.schema.TrackKind.Video)
    assert placed_clips(video) == cut(tl)
    assert [round(t.out_offset.value) for t in video if isinstance(t, otio.schema.Transition)] == list(tl.fades[1:])
    assert len([t for t in xml.tracks if t.kind == otio.schema.TrackKind.Audio]) == 2
    assert len(list(xml.tracks.markers)) == len(srt_cues(out / "film.srt"))

    code, text = run_cli("export", project, "--out", out, "--format", "edl")
    assert code == 0, text
    edl = otio.adapters.read_from_file(str(out / "film.edl"), adapter_name="cmx_3600", rate=FPS)
    video = edl.tracks[0]
    assert [round(video.range_of_child(c).start_time.value) for c in video.find_clips()] == list(tl.frames[:-1])
    assert round(edl.duration().value) == tl.total_frames
    reels = [c.metadata["cmx_3600"]["reel"] for c in video.find_clips()]
    assert len(set(reels)) == len(reels) and all(len(r) <= 8 for r in reels)


def media_paths(timeline, folder: Path) -> list[Path]:
    """Where each clip's media is, its relative URL taken from ``folder``."""
    urls = [c.media_reference.target_url for c in timeline.find_clips()]
    assert all(not urlparse(u).scheme and not Path(u).is_absolute() for u in urls), urls
    return [folder / urlparse(u).path for u in urls]


@pytest.mark.slow
def test_media_resolve_from_a_moved_copy_of_the_out_folder(made, tmp_path):
    project, out = made
    moved = shutil.copytree(out, tmp_path / "elsewhere" / "copy")
    timeline = otio.adapters.read_from_file(str(moved / "film.otio"))
    paths = media_paths(timeline, moved)
    assert all(p.is_file() and p.is_relative_to(moved) for p in paths)
    assert any(p.name.endswith(MUSIC.suffix) for p in paths)  # the music came along
    code, text = run_cli("export", project, "--out", moved, "--format", "fcp7xml", "-o", tmp_path / "xml" / "cut.xml")
    assert code == 0, text
    xml = otio.adapters.read_from_file(str(tmp_path / "xml" / "cut.xml"), adapter_name="fcp_xml")
    assert all(p.resolve().is_relative_to(moved) and p.is_file() for p in media_paths(xml, tmp_path / "xml"))


@pytest.mark.slow
def test_a_rerun_leaves_film_otio_alone_unless_it_was_spoilt(made, tmp_path):
    project, out = made
    out = shutil.copytree(out, tmp_path / "out")
    before = (out / "film.otio").stat().st_mtime_ns
    code, text = run_cli("make", project, "--out", out)
    assert code == 0, text
    assert (out / "film.otio").stat().st_mtime_ns == before
    assert manifest(out)["summary"]["outputs"]["timeline"] == str(out / "film.otio")
    written = (out / "film.otio").read_text()
    (out / "film.otio").write_text("{}")  # spoilt by hand: the next run writes it again
    (out / "media" / "shot-01.mp4").unlink()
    code, text = run_cli("make", project, "--out", out)
    assert code == 0, text
    assert (out / "film.otio").read_text() == written and (out / "media" / "shot-01.mp4").is_file()


def test_export_without_a_film_says_how_to_make_one(tmp_path):
    project = write_project(tmp_path / "proj")
    code, text = run_cli("export", project, "--out", tmp_path / "out", "--format", "edl")
    assert code == 2, text
    assert "no finished film" in text and "film make" in text


def test_export_refuses_a_format_it_does_not_know(tmp_path):
    project = write_project(tmp_path / "proj")
    code, text = run_cli("export", project, "--format", "aaf")
    assert code == 2 and "otio, fcp7xml, edl" in text, text


def test_music_shorter_than_the_film_loops_to_its_end(tmp_path):
    from pipeline.outputs.timeline import music_loops
    from stages.contracts import StitchRequest, StitchShot, VideoFormat

    shot = StitchShot(number=1, clip_path=tmp_path / "c.mp4", clip_duration=6.0, audio_path=tmp_path / "a.wav",
                      audio_duration=5.8, timings=())
    request = StitchRequest(shots=(shot,), format=VideoFormat(width=320, height=180, fps=12), font_path=tmp_path,
                            music_path=tmp_path / "m.ogg", music_gain_db=-20)
    loops = music_loops(request, "media/m.ogg", 2.55, 12, 70)  # 30.6 frames a pass
    assert [(m.start, m.frames) for m in loops] == [(0, 31), (31, 30), (61, 9)]
    assert all(m.media_frames == 31 and m.gain_db == -20 for m in loops)


def test_fcp7_xml_and_edl_refuse_a_rate_timecode_lacks():
    from pipeline.errors import UserError
    from pipeline.outputs.editing import _written
    from pipeline.outputs.timeline import VIDEO, Item, Layout, Track, to_otio

    timeline = to_otio(Layout("t", 12, 10, (Track("shots", VIDEO, (Item("shot 01", "media/s.mp4", 0, 10, 12),)),), ()))
    assert "OTIO_SCHEMA" in _written(otio, timeline, "otio_json")  # OTIO itself takes any rate
    for adapter in ("fcp_xml", "cmx_3600"):
        with pytest.raises(UserError, match="12 fps"):
            _written(otio, timeline, adapter)
