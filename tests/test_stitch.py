"""moviepy stitcher: timeline and A/V sync, loudness, SRT, burned subtitles, dissolves, joins without re-encode."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile

from stages.assets import FONT_SANS_BOLD
from stages.contracts import StitchRequest, StitchShot, Timing, VideoFormat
from stages.errors import StageError
from stages.media import FrameWriter, x264_args
from stages.stitch import soundtrack
from stages.stitch.moviepy_stitch import MoviepyStitcher, join_segments
from stages.stitch.subtitles import LINE_CHARS, balance, chunk_text, sentence_cues
from stages.text import RANKS, TITLES
from stages.stitch.timeline import Timeline
from tests.film_checks import decode_audio, loudness, srt_cues, stream_info, video_frames
from tests.test_kenburns import decode

FMT = VideoFormat(width=320, height=180, fps=12)
COLOURS = ((200, 40, 40), (40, 200, 40), (40, 40, 200))
NARRATION = (1.0, 1.3, 1.6)  # shots of 12, 16 and 20 frames (the whole narration): at frames 0, 12, 28; 48 in all
STARTS = (0, 12, 28, 48)
TONES = (220, 330, 440)  # Hz of each shot's narration
CLIPS = (1.5, 2.0, 2.0)
FADE = 0.25  # 3 frames at 12 fps


def bar_x(j: int) -> int:
    """Left edge of the white bar that marks clip frame ``j``."""
    return 8 + 6 * j


def write_clip(path: Path, colour: tuple[int, int, int], frames: int) -> None:
    """A solid-colour clip whose frame j carries a white bar at bar_x(j) in its top band."""
    with FrameWriter(path, (FMT.width, FMT.height), FMT.fps, x264_args("veryfast", 8)) as writer:
        for j in range(frames):
            frame = np.empty((FMT.height, FMT.width, 3), np.uint8)
            frame[:] = colour
            frame[6:42, bar_x(j):bar_x(j) + 4] = 255
            writer.write(frame)


def bar_position(frame: np.ndarray) -> float:
    """Clip frame index shown, from the centroid of the white bar (fractional where two frames blend)."""
    weight = np.clip(frame[10:38].min(axis=2).astype(float).mean(axis=0) - 60.0, 0, None)
    centre = (weight * np.arange(frame.shape[1])).sum() / weight.sum()
    return (centre - 1.5 - 8) / 6


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> tuple[StitchShot, ...]:
    folder = tmp_path_factory.mktemp("parts")
    made = []
    for i, (colour, narration, clip) in enumerate(zip(COLOURS, NARRATION, CLIPS)):
        write_clip(folder / f"clip{i}.mp4", colour, round(clip * FMT.fps))
        t = np.arange(round(narration * 22050)) / 22050
        soundfile.write(folder / f"voice{i}.wav", 0.3 * np.sin(2 * np.pi * TONES[i] * t), 22050)
        timings = (Timing(text=f"Sentence {i} begins.", start=0.05, end=narration / 2),
                   Timing(text=f"And sentence {i} ends here.", start=narration / 2 + 0.05, end=narration - 0.05))
        made.append(StitchShot(number=i + 1, clip_path=folder / f"clip{i}.mp4", clip_duration=clip,
                               audio_path=folder / f"voice{i}.wav", audio_duration=narration, timings=timings))
    return tuple(made)


def stitch(shots, folder: Path, name: str, **changes):
    request = StitchRequest(**{"shots": tuple(shots), "format": FMT, "font_path": FONT_SANS_BOLD, "crossfade": FADE,
                               **changes})
    result = MoviepyStitcher().stitch(request, folder / f"{name}.mp4", folder / f"{name}.srt")
    return result, decode(result.video_path)


@pytest.fixture(scope="module")
def film(shots, tmp_path_factory):
    return stitch(shots, tmp_path_factory.mktemp("film"), "film")


def test_streams_duration_sync_and_loudness(film) -> None:
    result, frames = film
    info = stream_info(result.video_path)
    assert "Video: h264" in info and "yuv420p" in info and "320x180" in info
    assert "Audio: aac" in info
    assert len(frames) == video_frames(result.video_path) == STARTS[-1]
    assert result.duration == pytest.approx(STARTS[-1] / FMT.fps)
    assert 0 <= result.duration - sum(NARRATION) <= len(NARRATION) / FMT.fps + 1e-9  # no narration is cut short
    audio = decode_audio(result.video_path)
    assert len(audio) == round(len(frames) / FMT.fps * 48000), "sound and picture end together"
    assert loudness(audio) == pytest.approx(-16.0, abs=1.0)
    assert result.loudness_lufs == pytest.approx(-16.0, abs=0.5)
    assert not list(result.video_path.parent.glob(".stitch.tmp-*")), "temp files cleaned up"


def tone(audio: np.ndarray, start: float, stop: float) -> tuple[float, float]:
    """(dominant frequency in Hz, RMS) of the film's sound from ``start`` to ``stop`` seconds."""
    part = audio[round(start * 48000):round(stop * 48000), 0].astype(float)
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part)), 48000))
    return float(np.argmax(spectrum)), float(np.sqrt(np.mean(part ** 2)))


def test_each_shot_sounds_from_its_first_frame(film) -> None:
    result, _ = film
    audio = decode_audio(result.video_path)
    for i, first in enumerate(STARTS[:-1]):
        freq, level = tone(audio, first / FMT.fps + 0.005, first / FMT.fps + 0.2)
        assert freq == pytest.approx(TONES[i], abs=3) and level > 0.05, f"shot {i + 1}"
    # Shot 2's 1.3 s narration starts at 1.0 s and shot 3 at frame 28 (2.333 s): silence between them.
    assert tone(audio, 2.305, 2.327)[1] < 0.01
    assert tone(audio, 2.339, 2.36)[1] > 0.05
    # Shot 3's 1.6 s narration is cut at the film's end (19 frames, 1.583 s).
    assert tone(audio, STARTS[3] / FMT.fps - 0.1, STARTS[3] / FMT.fps)[1] > 0.05


def test_narration_is_placed_at_its_shot_start_and_cut_at_the_next(tmp_path) -> None:
    soundfile.write(tmp_path / "a.wav", np.full(1000, 0.5), 48000)
    soundfile.write(tmp_path / "b.wav", np.full(300, -0.25), 48000)
    track = soundtrack.narration_track([(tmp_path / "a.wav", 0.0, 0.01), (tmp_path / "b.wav", 0.01, 0.02)], 1000)
    assert np.array_equal(track, np.concatenate([np.full(480, 0.5), np.full(300, -0.25), np.zeros(220)]))


def test_srt_follows_timings_offset_by_shot_start(film, shots) -> None:
    result, _ = film
    cues = srt_cues(result.srt_path)
    starts = [f / FMT.fps for f in STARTS]
    expected = []
    for i, shot in enumerate(shots):  # a cue under a second is held into the silence after it
        follows = [t.start for t in shot.timings[1:]] + [starts[i + 1] - starts[i]]
        expected += [(starts[i] + t.start, starts[i] + max(t.end, min(t.start + 1.0, after)), t.text)
                     for t, after in zip(shot.timings, follows)]
    assert len(cues) == len(expected)
    for (start, end, text), (want_start, want_end, want_text) in zip(cues, expected):
        assert (start, end) == pytest.approx((want_start, want_end), abs=0.0011)
        assert text == want_text


def test_each_shot_plays_its_clip_from_the_start_cut_at_its_narration(film) -> None:
    _, frames = film
    tl = Timeline.plan(NARRATION, FMT.fps, FADE)
    assert tl.frames == STARTS and tl.fades == (0, 3, 3)
    for shot in range(3):
        for f in range(tl.frames[shot] + tl.fades[shot], tl.frames[shot + 1]):
            assert bar_position(frames[f]) == pytest.approx(f - tl.frames[shot], abs=0.15), f"film frame {f}"
            assert np.abs(frames[f][100, 10].astype(int) - COLOURS[shot]).max() < 12


def test_dissolve_blends_the_previous_clip_continuing_past_its_cut(film) -> None:
    _, frames = film
    mid = 12 + 1  # second of the three dissolve frames into shot 2
    before, after = frames[11][100, 10].astype(int), frames[12 + 3][100, 10].astype(int)
    pixel = frames[mid][100, 10].astype(int)
    assert np.abs(pixel - before).max() > 40 and np.abs(pixel - after).max() > 40
    assert (np.minimum(before, after) - 8 <= pixel).all() and (pixel <= np.maximum(before, after) + 8).all()
    # Both bars show: shot 1's clip past its cut (frame 13) and shot 2's clip from its start (frame 1).
    band = frames[mid][10:38].min(axis=2).mean(axis=0)
    assert band[bar_x(13):bar_x(13) + 4].mean() > 110 and band[bar_x(1):bar_x(1) + 4].mean() > 110


def test_hard_cuts_without_crossfade(shots, tmp_path) -> None:
    _, frames = stitch(shots, tmp_path, "cuts", crossfade=0.0, subtitles=False)
    assert np.abs(frames[12][100, 10].astype(int) - COLOURS[1]).max() < 12
    assert bar_position(frames[12]) == pytest.approx(0, abs=0.15)


def test_subtitles_are_burned_into_the_bottom_band(film, shots, tmp_path) -> None:
    _, burned = film
    _, clean = stitch(shots, tmp_path, "clean", subtitles=False)
    f = 3  # 0.25 s: the first cue is on screen
    diff = np.abs(burned[f].astype(int) - clean[f].astype(int)).max(axis=2)
    assert (diff[120:] > 60).sum() > 200, "text pixels in the bottom band"
    assert (diff[:90] > 20).sum() == 0, "the picture above is untouched"
    assert (burned[f][120:] > 220).all(axis=2).sum() > 50, "white letters"


def test_short_clip_is_slowed_down_not_frozen(shots, tmp_path) -> None:
    short = [shots[0].model_copy(update={"clip_duration": 0.5}), *shots[1:]]  # 6 clip frames for 12 film frames
    _, frames = stitch(short, tmp_path, "slow", subtitles=False)
    seen = [bar_position(frames[f]) for f in range(12)]
    # Clip time = shot time x 0.5 s / 1.0 s: half a clip frame per film frame, in-betweens blended.
    assert seen == pytest.approx([min(f / 2, 5) for f in range(12)], abs=0.1)


def test_music_bed_keeps_loudness_and_ducks_under_speech(shots, tmp_path) -> None:
    t = np.arange(48000 * 2) / 48000
    music = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 660 * t)], axis=1)
    soundfile.write(tmp_path / "music.ogg", music, 48000, format="OGG", subtype="VORBIS")
    result, _ = stitch(shots, tmp_path, "music", subtitles=False, music_path=tmp_path / "music.ogg", music_gain_db=-6)
    assert "stereo" in stream_info(result.video_path)
    assert loudness(decode_audio(result.video_path)) == pytest.approx(-16.0, abs=1.0)


def test_duck_envelope_is_smooth_and_dips_six_db() -> None:
    rate = soundtrack.RATE
    gain = soundtrack.duck_envelope([(2.0, 4.0)], 6 * rate)
    assert gain[3 * rate] == pytest.approx(10 ** (-6 / 20), rel=0.01)
    assert gain[int(0.5 * rate)] == pytest.approx(1.0) and gain[int(5.5 * rate)] == pytest.approx(1.0)
    assert np.abs(np.diff(gain)).max() < 1e-3


def test_normalise_reaches_target_with_peaks_under_ceiling() -> None:
    rng = np.random.default_rng(0)
    pcm = (0.05 * rng.standard_normal((48000 * 3, 1))).astype(np.float32)
    pcm[::4800] = 0.9  # sharp peaks
    out, lufs = soundtrack.normalise(pcm, -16.0)
    assert lufs == pytest.approx(-16.0, abs=0.5) and soundtrack.loudness(out) == pytest.approx(lufs)
    assert np.abs(out).max() <= 10 ** (-1 / 20) + 1e-6


def test_loudness_is_pyloudnorms_measure() -> None:
    import pyloudnorm

    rng = np.random.default_rng(1)
    stereo = (0.1 * rng.standard_normal((48000 * 5, 2))).astype(np.float32)
    stereo[48000:96000] *= 0.001  # a quiet second for the gates to drop
    for pcm in (stereo, stereo[:, :1], stereo[:30000]):
        want = pyloudnorm.Meter(48000).integrated_loudness(pcm.astype(np.float64))
        assert soundtrack.loudness(pcm) == pytest.approx(want, abs=0.01)


def test_limiter_touches_only_the_neighbourhood_of_peaks() -> None:
    pcm = np.full((48000, 2), 0.1, np.float32)
    pcm[10000, 1] = pcm[30000, 0] = 1.0
    out = soundtrack.limit(pcm, -6.0)
    assert np.abs(out).max() <= 10 ** (-6 / 20) + 1e-6
    reach = 2 * round(soundtrack.LIMITER_WINDOW * 48000) + 1
    near = np.zeros(48000, bool)
    for peak in (10000, 30000):
        near[peak - reach:peak + reach + 1] = True
    assert np.array_equal(out[~near], pcm[~near]) and (out[near] < pcm[near]).any()


def test_long_sentences_are_split_into_even_two_line_cues() -> None:
    text = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife, however little known the feelings or views of such a man may be.")
    chunks = chunk_text(text)
    assert len(chunks) >= 2 and all(1 <= len(c) <= 2 and all(len(line) <= LINE_CHARS for line in c) for c in chunks)
    assert " ".join(line for c in chunks for line in c) == text
    sizes = [sum(map(len, c)) for c in chunks]
    assert max(sizes) < 1.5 * min(sizes), "cues of about equal length"
    cues = sentence_cues(Timing(text=text, start=1.0, end=9.0), 10.0)
    assert cues[0].start == pytest.approx(1.0) and cues[-1].end == pytest.approx(9.0)
    assert sentence_cues(Timing(text=text, start=1.0, end=9.0), 5.0)[-1].end == pytest.approx(5.0), "kept in the shot"
    assert all(a.end == pytest.approx(b.start) for a, b in zip(cues, cues[1:]))
    for cue in cues:  # time shared by characters
        share = sum(map(len, cue.lines)) / sum(len(line) for c in chunks for line in c)
        assert cue.end - cue.start == pytest.approx(8.0 * share)


def test_a_run_on_sentence_is_chunked_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import textwrap

    from stages.stitch import subtitles

    calls, wrap = [], textwrap.wrap

    def counted(text: str, width: int) -> list[str]:
        calls.append(len(text))
        return wrap(text, width)

    monkeypatch.setattr(subtitles.textwrap, "wrap", counted)
    text = " ".join([BENNET.rstrip(".") + ","] * 30) + "."  # ~900 words in one sentence
    chunks = chunk_text(text)
    assert " ".join(line for c in chunks for line in c) == text
    assert all(1 <= len(c) <= 2 and all(len(line) <= LINE_CHARS for line in c) for c in chunks)
    # every cut tries only the heads that fit one cue (~20), then the tail of its best: not every word twice
    assert len(calls) < 30 * len(chunks), f"{len(calls)} wraps for {len(chunks)} cues"


def test_timeline_counts_frames_per_shot() -> None:
    durations = [1.37, 2.011, 0.52, 3.333, 1.9, 0.01] * 20
    tl = Timeline.plan(durations, 24, 0.4)
    counts = [b - a for a, b in zip(tl.frames, tl.frames[1:])]
    assert counts == [max(1, math.ceil(d * 24)) for d in durations]  # every shot as long as its narration, or a bit more
    assert 0 <= tl.duration - sum(durations) <= len(durations) / 24
    assert Timeline.plan([11.281, 2.389], 1, 0.0).frames == (0, 12, 15)  # at 1 fps too, no speech is cut off
    segments = tl.segments()
    assert segments[0][0] == 0 and segments[-1][1] == tl.total_frames
    assert all(a < b and b == c for (a, b), (c, _) in zip(segments, segments[1:]))
    # A shot's segment is the same run of frames whatever came before it.
    other = Timeline.plan([5.0, *durations[1:]], 24, 0.4)
    assert [b - a for a, b in other.segments()[1:]] == [b - a for a, b in segments[1:]]
    assert other.fades == tl.fades


def test_segment_cache_re_makes_only_what_an_edit_touched(shots, film, tmp_path, monkeypatch) -> None:
    rendered = []
    original = MoviepyStitcher._render_segment

    def counted(self, request, timeline, span, *rest):
        rendered.append(span)
        return original(self, request, timeline, span, *rest)

    monkeypatch.setattr(MoviepyStitcher, "_render_segment", counted)
    cache = tmp_path / "segments"

    def kept() -> dict[str, int]:
        names = [p.name for p in cache.iterdir()]
        counts = {kind: sum(n.endswith(kind) and ".tmp-" not in n for n in names) for kind in (".mp4", ".m4a", ".json")}
        return counts | {"temporary": sum(".tmp-" in n for n in names)}

    _, first = stitch(shots, tmp_path, "first", segment_cache=cache)
    assert np.array_equal(first, film[1]), "the same film as without a cache"
    assert len(rendered) == 3 and kept() == {".mp4": 3, ".m4a": 1, ".json": 1, "temporary": 0}
    write_clip(tmp_path / "new.mp4", (200, 200, 40), 24)
    changed = [shots[0], shots[1].model_copy(update={"clip_path": tmp_path / "new.mp4"}), shots[2]]
    rendered.clear()
    second_result, second = stitch(changed, tmp_path, "second", segment_cache=cache)
    # Shot 2's clip is read by its own segment and by shot 1's, which ends dissolving into it; the sound is kept.
    assert sorted(rendered) == [(0, 15), (15, 31)] and kept() == {".mp4": 5, ".m4a": 1, ".json": 1, "temporary": 0}
    assert np.array_equal(second[31:], first[31:]), "shot 3's segment reused"
    assert np.abs(second[20][100, 10].astype(int) - (200, 200, 40)).max() < 12
    assert np.array_equal(decode_audio(second_result.video_path), decode_audio(film[0].video_path))
    rendered.clear()
    _, again = stitch(changed, tmp_path, "again", segment_cache=cache)
    assert rendered == [] and np.array_equal(again, second), "nothing to make the second time"
    _, fresh = stitch(changed, tmp_path, "fresh")
    assert np.array_equal(second, fresh), "cached and fresh segments join into the same film"
    rendered.clear()
    quieter, _ = stitch(changed, tmp_path, "quieter", segment_cache=cache, loudness_lufs=-20.0)
    assert rendered == [] and kept()[".m4a"] == 2, "a new soundtrack for new sound settings, the same pictures"
    assert quieter.loudness_lufs == pytest.approx(-20.0, abs=0.5)


def test_segments_are_joined_without_re_encoding(tmp_path) -> None:
    parts = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    write_clip(parts[0], COLOURS[0], 7)
    write_clip(parts[1], COLOURS[1], 5)
    soundtrack.encode_aac(np.zeros((48000, 1), np.float32), tmp_path / "a.m4a", "96k")
    join_segments(parts, tmp_path / "a.m4a", tmp_path / "joined.mp4", tmp_path)
    joined = decode(tmp_path / "joined.mp4")
    assert np.array_equal(joined, np.concatenate([decode(p) for p in parts])), "bit-identical: stream copy"


@pytest.mark.parametrize("broken", ["missing clip", "bad clip", "bad audio"])
def test_unusable_inputs_name_the_file(shots, tmp_path, broken: str) -> None:
    bad = tmp_path / {"missing clip": "nothing.mp4", "bad clip": "garbage.mp4", "bad audio": "garbage.wav"}[broken]
    if broken != "missing clip":
        bad.write_bytes(b"this is not media at all" * 10)
    field = "audio_path" if broken == "bad audio" else "clip_path"
    changed = [shots[0], shots[1].model_copy(update={field: bad}), shots[2]]
    with pytest.raises(StageError, match=bad.name):
        stitch(changed, tmp_path, "broken", segment_cache=tmp_path / "segments")
    assert not list(tmp_path.glob("broken.*")) and not list(tmp_path.glob(".stitch.tmp-*")), "nothing left behind"
    assert not list((tmp_path / "segments").glob(".*")), "no half-written segment in the cache"


def test_a_short_cue_is_held_into_the_silence_after_it_but_never_over_the_next():
    from stages.stitch.subtitles import shot_cues

    timings = [Timing(text="Rain.", start=0.1, end=0.42), Timing(text="Wind.", start=0.6, end=0.9),
               Timing(text="And then a long sentence that is read out slowly.", start=1.0, end=2.7),
               Timing(text="Done.", start=2.8, end=2.95)]
    assert [(c.start, c.end) for c in shot_cues(timings, 3.0)] == \
        [(0.1, 0.6), (0.6, 1.0), (1.0, 2.7), (2.8, 3.0)]
    assert [(c.start, c.end) for c in shot_cues(timings[:1], 3.0)] == [(0.1, 1.1)]


def test_music_stays_ducked_through_a_sentence_pause_and_rises_in_a_long_silence() -> None:
    rate = soundtrack.RATE
    gain = soundtrack.duck_envelope([(1.0, 3.0), (3.4, 5.0), (8.0, 9.0)], 10 * rate)
    ducked = 10 ** (-6 / 20)
    assert gain[int(3.2 * rate)] == pytest.approx(ducked, rel=0.01)  # a 0.4 s pause between sentences
    assert gain[int(6.5 * rate)] == pytest.approx(1.0)  # three seconds without speech


BENNET = ("Mr. Bennet replied that he had not, but she returned that it was, for Mrs. Long had just been there and "
          "told her all about it, and he made no answer.")


def test_a_long_sentence_is_cut_where_the_speaker_pauses_never_after_a_title() -> None:
    chunks = chunk_text(BENNET)
    assert len(chunks) == 2 and chunks[0][-1].endswith("it was,")
    assert not any(line.endswith(("Mrs.", "Mr.", "the")) for chunk in chunks for line in chunk)


@pytest.mark.parametrize("title", [f"{title}." for title in TITLES] + list(RANKS))
def test_a_line_never_ends_on_a_title_or_rank_of_the_one_list(title) -> None:
    # the break after the title gives two lines of 18 characters, the most even; it must go elsewhere
    lines = (f"{'o' * (17 - len(title))} {title}", "Dufour by the mill")
    assert len(lines[0]) == len(lines[1]) and not balance(lines)[0].endswith(title)


def test_the_cue_change_waits_for_the_speech_to_resume_after_the_pause() -> None:
    timing = Timing(text=BENNET, start=0.19, end=8.03)
    guessed = sentence_cues(timing, 9.0)
    heard = sentence_cues(timing, 9.0, pauses=[(0.0, 0.19), (2.01, 2.45), (3.62, 3.98), (6.59, 6.94)])
    assert heard[1].start == heard[0].end == 3.98 != guessed[1].start  # "…it was," then a pause, then "for Mrs. Long"
    assert sentence_cues(timing, 9.0, pauses=[(6.59, 6.94)])[1].start == guessed[1].start  # no pause near: kept


def test_speech_pauses_finds_the_silences_in_a_narration(tmp_path) -> None:
    rate = 22050
    t = np.arange(2 * rate) / rate
    voice = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    voice[int(1.0 * rate):int(1.3 * rate)] = 0.0  # a comma's pause
    voice[int(1.6 * rate):int(1.65 * rate)] = 0.0  # a stop consonant: too short to count
    soundfile.write(tmp_path / "voice.wav", voice, rate)
    [(start, end)] = soundtrack.speech_pauses(tmp_path / "voice.wav")
    assert start == pytest.approx(1.0, abs=0.011) and end == pytest.approx(1.3, abs=0.011)


STORM = ("Outside the window the wind rose, the shutters banged, the candles guttered, and far below the ships "
         "strained at their ropes in the harbour.")
WATCH = ("The wind rose and the shutters banged against the old stone walls, the candles guttered in the hall while "
         "the watchmen called the hours, and nobody slept until the grey light of dawn came over the hills.")


def test_the_cue_change_takes_the_pause_that_begins_nearest_the_end_of_its_words() -> None:
    timing = Timing(text=STORM, start=0.2, end=8.0)
    guess = sentence_cues(timing, 9.0)[1].start
    commas = [(guess - 0.9, guess - 0.5), (guess + 0.3, guess + 0.65)]  # after "banged," and after "guttered,"
    assert sentence_cues(timing, 9.0, pauses=commas)[1].start == pytest.approx(guess + 0.65)


def test_a_pause_reaching_past_the_next_cue_is_not_taken_and_no_cue_is_lost() -> None:
    timing = Timing(text=WATCH, start=0.0, end=4.5)
    guessed = sentence_cues(timing, 9.0)
    cues = sentence_cues(timing, 9.0, pauses=[(1.0, 3.0)])  # begins near the first change, ends past the second
    assert [c.lines for c in cues] == [c.lines for c in guessed]
    assert all(c.end - c.start >= 0.5 * (g.end - g.start) for c, g in zip(cues, guessed))
