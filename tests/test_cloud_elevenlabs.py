"""ElevenLabs narration, wire-level: the real elevenlabs SDK talking HTTP to the fake server."""
from __future__ import annotations

import subprocess
import sys

import pytest
import soundfile

from stages import calls
from stages.calls import Call, Till
from stages.contracts import NarrationRequest
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError, TransientError
from stages.narration.elevenlabs import DEFAULT_VOICE, ElevenLabsNarrator, ElevenLabsOptions, sentence_timings
from tests.fakes import elevenlabs as fake
from tests.fakes.server import FakeServer

VOICE = "AbCdEfGhIjKlMnOpQrSt"
TEXT = "The rain had stopped. She opened the door."


@pytest.fixture(scope="module")
def server():
    started = FakeServer({"elevenlabs": fake.install}).start()
    yield started
    started.stop()


@pytest.fixture
def state(server, monkeypatch):
    """The fake's state, emptied, with the backend pointed at the fake and a key set."""
    monkeypatch.setenv("FILM_ELEVENLABS_BASE_URL", server.url("elevenlabs"))
    monkeypatch.setenv("ELEVENLABS_API_KEY", "el-test-key")
    server.state.reset()
    return server.state


def posts(state) -> int:
    """Requests the fake saw for ElevenLabs."""
    return sum(1 for provider, method, _ in state.requests if provider == "elevenlabs" and method == "POST")


def narrate(tmp_path, request=None, **options):
    """Narrate ``request`` (TEXT in VOICE by default) with a fresh call; returns (result, call)."""
    request = request or NarrationRequest(text=TEXT, voice=VOICE)
    backend = ElevenLabsNarrator(ElevenLabsOptions(**options))
    with calls.using(Call()) as call:
        return backend.narrate(request, tmp_path / "voice.wav"), call


def test_success_writes_real_audio_timed_by_sentence(state, tmp_path):
    request = NarrationRequest(text=TEXT, voice=VOICE, previous_text="It was late.", next_text="He came in.")
    result, call = narrate(tmp_path, request)
    audio, rate = soundfile.read(result.path, dtype="int16")
    info = soundfile.info(result.path)
    assert (info.channels, info.subtype, rate, result.sample_rate) == (1, "PCM_16", 22050, 22050)
    spoken = len(TEXT) * fake.CHAR_S
    assert result.duration == pytest.approx(len(audio) / rate)
    assert result.duration == pytest.approx(fake.LEAD_S + spoken + fake.TAIL_S, abs=0.01)
    assert [t.text for t in result.timings] == ["The rain had stopped.", "She opened the door."]
    first, second = result.timings
    assert first.start == pytest.approx(fake.LEAD_S)
    assert first.end == pytest.approx(fake.LEAD_S + len("The rain had stopped.") * fake.CHAR_S)
    assert second.start == pytest.approx(fake.LEAD_S + len("The rain had stopped. ") * fake.CHAR_S)
    assert second.end == pytest.approx(fake.LEAD_S + spoken)
    # exactly one paid request, with the fields ElevenLabs expects
    assert posts(state) == 1 and state.paid["elevenlabs"] == 1
    [(_, path, body)] = state.bodies
    assert path == f"/elevenlabs/v1/text-to-speech/{VOICE}/with-timestamps?output_format=pcm_22050"
    assert body["text"] == TEXT and body["model_id"] == "eleven_multilingual_v2"
    assert (body["previous_text"], body["next_text"]) == ("It was late.", "He came in.")
    assert "voice_settings" not in body and "seed" not in body
    [charge] = call.charges
    assert (charge.item, charge.units) == ("elevenlabs/eleven_multilingual_v2:char", len(TEXT))
    assert charge.usd == pytest.approx(len(TEXT) * 0.0003)


def test_default_voice_options_and_no_neighbours(state, tmp_path):
    result, _ = narrate(tmp_path, NarrationRequest(text="Morning came."), model_id="eleven_flash_v2_5",
                        sample_rate=16000, stability=0.4, speed=1.1, seed=7)
    assert result.sample_rate == 16000 and soundfile.info(result.path).samplerate == 16000
    [(_, path, body)] = state.bodies
    assert path.startswith(f"/elevenlabs/v1/text-to-speech/{DEFAULT_VOICE}/") and path.endswith("pcm_16000")
    assert body["model_id"] == "eleven_flash_v2_5" and body["seed"] == 7
    assert body["voice_settings"] == {"stability": 0.4, "speed": 1.1}
    assert body.get("previous_text") is None and body.get("next_text") is None


def test_missing_key_is_an_auth_error_and_sends_nothing(state, tmp_path, monkeypatch):
    monkeypatch.delenv("ELEVENLABS_API_KEY")
    with pytest.raises(AuthError, match="ELEVENLABS_API_KEY"):
        narrate(tmp_path)
    assert posts(state) == 0


def test_rate_limit_is_transient_with_retry_after_and_no_sdk_retry(state, server, tmp_path):
    server.fault("elevenlabs", "429", retry_after=0.7)
    with pytest.raises(TransientError) as caught:
        narrate(tmp_path)
    assert caught.value.retry_after == pytest.approx(0.7)
    assert posts(state) == 1 and state.paid["elevenlabs"] == 0


def test_server_error_is_transient(state, server, tmp_path):
    server.fault("elevenlabs", "500")
    with pytest.raises(TransientError, match="500"):
        narrate(tmp_path)
    assert posts(state) == 1


def test_slow_answer_past_the_timeout_is_transient(state, server, tmp_path):
    server.fault("elevenlabs", "slow", delay=1.0)
    with pytest.raises(TransientError):
        narrate(tmp_path, timeout_s=0.3)


def test_malformed_answer_is_an_error_and_writes_nothing(state, server, tmp_path):
    server.fault("elevenlabs", "malformed")
    with pytest.raises(StageError):
        narrate(tmp_path)
    assert not (tmp_path / "voice.wav").exists()


def test_a_hollow_answer_is_transient_and_writes_nothing(state, server, tmp_path):
    server.fault("elevenlabs", "hollow")
    with pytest.raises(TransientError, match="unusable audio"):
        narrate(tmp_path)
    assert not (tmp_path / "voice.wav").exists()


def test_refusal_is_content_rejected_naming_the_text(state, server, tmp_path):
    server.fault("elevenlabs", "reject")
    with pytest.raises(ContentRejected, match="The rain had stopped") as caught:
        narrate(tmp_path)
    assert "screenplay.yaml" in caught.value.hint
    assert state.paid["elevenlabs"] == 0


def test_exhausted_quota_is_an_auth_error_saying_so(state, server, tmp_path):
    server.fault("elevenlabs", "quota")
    with pytest.raises(AuthError, match="quota is exhausted") as caught:
        narrate(tmp_path)
    assert "el-test-key" not in str(caught.value) + caught.value.hint


def test_cut_audio_raises_before_writing_and_the_next_attempt_pays_once(state, server, tmp_path):
    server.fault("elevenlabs", "truncated")
    backend, out = ElevenLabsNarrator(), tmp_path / "voice.wav"
    with calls.using(Call(journal=tmp_path / "j.json")) as call:
        with pytest.raises(StageError, match="cut short"):
            backend.narrate(NarrationRequest(text=TEXT, voice=VOICE), out)
        assert not out.exists()
        assert len(call.charges) == 1  # the cut answer was billed, and the ledger says so
        result = backend.narrate(NarrationRequest(text=TEXT, voice=VOICE), out)
    assert result.path.is_file() and state.paid["elevenlabs"] == 2 and posts(state) == 2


def test_budget_stops_the_request_before_it_is_sent(state, tmp_path):
    with calls.using(Call(till=Till(budget_usd=0.0))):
        with pytest.raises(BudgetExceeded):
            ElevenLabsNarrator().narrate(NarrationRequest(text=TEXT, voice=VOICE), tmp_path / "voice.wav")
    assert posts(state) == 0


def test_bad_and_unknown_voices_are_input_errors(state, tmp_path):
    with pytest.raises(InputError, match="not an ElevenLabs voice id"):
        narrate(tmp_path, NarrationRequest(text=TEXT, voice="voices/en_GB-alba-medium.onnx"))
    assert posts(state) == 0
    with pytest.raises(InputError, match="no voice"):
        narrate(tmp_path, NarrationRequest(text=TEXT, voice="missingVoice123"))
    with pytest.raises(InputError, match="nothing to narrate"):
        narrate(tmp_path, NarrationRequest(text="…", voice=VOICE))


def test_estimate_counts_characters():
    backend = ElevenLabsNarrator(ElevenLabsOptions(model_id="eleven_turbo_v2_5"))
    assert backend.estimate(NarrationRequest(text=f"  {TEXT}\n")) == [("eleven_turbo_v2_5:char", len(TEXT))]
    assert ElevenLabsNarrator.uses_neighbours and ElevenLabsNarrator.concurrency == 3


def test_timings_follow_the_alignment_when_the_provider_normalised_the_text():
    # "2" spoken (and aligned) as "two": the sentences still start and end on their own characters
    spoken = "Dr. Who spoke. Then two left."
    alignment = [(c, i * 0.1, i * 0.1 + 0.1) for i, c in enumerate(spoken)]
    first, second = sentence_timings(["Dr. Who spoke.", "Then 2 left."], alignment, duration=10.0)
    assert (first.start, first.end) == (0.0, pytest.approx(1.4))
    assert (second.start, second.end) == (pytest.approx(1.5), pytest.approx(2.9))


def test_module_import_leaves_the_sdk_unloaded():
    code = "import sys, stages.narration.elevenlabs; assert 'elevenlabs' not in sys.modules, 'SDK imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
