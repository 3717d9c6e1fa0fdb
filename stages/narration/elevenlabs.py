"""ElevenLabs narration: one text-to-speech-with-timestamps request per shot, sentence timings from its alignment.

Voices (``NarrationRequest.voice``): an ElevenLabs voice id (e.g. ``JBFqnCBsd6RMkjVDRZzb``, "George"), set
per character in the project; ``None`` takes the ``voice_id`` option. The neighbouring shots' narration goes
along as ``previous_text`` / ``next_text`` so the delivery flows from shot to shot (not billed).

Audio comes back as raw 16-bit PCM (no decoder needed) and is written unchanged as a mono WAV. Each
sentence's ``Timing`` runs from the start of its first character to the end of its last, as ElevenLabs'
character alignment says. Billing is per character of the shot's text: ``<model_id>:char``.
"""
from __future__ import annotations

import base64
import binascii
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from stages.cloud.base import CloudBackend, CloudOptions
from stages.cloud.http import redact
from stages.contracts import NarrationRequest, NarrationResult, Timing
from stages.errors import AuthError, ContentRejected, InputError, StageError, TransientError
from stages.text import shorten

DEFAULT_VOICE = "JBFqnCBsd6RMkjVDRZzb"  # "George", the stock voice of ElevenLabs' own examples
ALIGNMENT_SLACK_S = 0.5  # how far the alignment may run past the end of the audio before the answer counts as cut
REFUSALS = frozenset({"bad_prompt"})  # ElevenLabs' status for a Terms-of-Service refusal
_VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SPEAKABLE = re.compile(r"\w")


class ElevenLabsOptions(CloudOptions):
    """Model, default voice, audio rate and optional voice settings of ElevenLabs narration."""

    model_id: str = Field("eleven_multilingual_v2", description="ElevenLabs model, priced per character")
    voice_id: str = Field(DEFAULT_VOICE, description="voice of speakers whose character names none (default: "
                                                     "\"George\", the stock voice of ElevenLabs' examples)")
    sample_rate: Literal[16000, 22050, 24000, 44100] = Field(22050, description="raw PCM rate asked for, in Hz "
                                                                                "(44100 needs the Pro tier)")
    stability: float | None = Field(default=None, ge=0.0, le=1.0, description="voice stability, 0 to 1; null = "
                                                                             "the voice's own")
    similarity_boost: float | None = Field(default=None, ge=0.0, le=1.0, description="closeness to the original "
                                                                                    "voice, 0 to 1; null = the "
                                                                                    "voice's own")
    style: float | None = Field(default=None, ge=0.0, le=1.0, description="style exaggeration, 0 to 1; null = the "
                                                                         "voice's own")
    speed: float | None = Field(default=None, ge=0.7, le=1.2, description="speaking speed, 0.7 to 1.2; null = the "
                                                                         "voice's own")
    seed: int | None = Field(default=None, ge=0, le=4294967295, description="best-effort deterministic sampling; "
                                                                           "null = none")


class ElevenLabsNarrator(CloudBackend):
    """Narrates each shot with ElevenLabs text-to-speech, timed by its character alignment."""

    name = "elevenlabs"
    version = "1"
    Options = ElevenLabsOptions
    options: ElevenLabsOptions
    packages = ("elevenlabs", "httpx", "pysbd")
    env_keys = ("ELEVENLABS_API_KEY",)
    provider = "elevenlabs"
    concurrency = 3  # the Starter tier's documented limit (Free 2, Creator 5, Pro 10)
    default_url = "https://api.elevenlabs.io"
    uses_neighbours = True

    def estimate(self, request: NarrationRequest) -> list[tuple[str, float]]:
        """One request billed per character of the shot's text."""
        return [(f"{self.options.model_id}:char", float(len(request.text.strip())))]

    def narrate(self, request: NarrationRequest, out_path: Path) -> NarrationResult:
        """Speak the shot's text into ``out_path`` (mono 16-bit WAV) with one timing per sentence."""
        text = request.text.strip()
        sentences = speakable_sentences(text)
        voice = voice_id(request.voice or self.options.voice_id)
        key, what = self.key(), f"narration {shorten(text)!r}"
        answer = self.speak(text, voice, request, key, what)
        rate = self.options.sample_rate
        samples, alignment = decoded(answer, rate, what)  # raises before anything is written
        timings = sentence_timings(sentences, alignment, len(samples) / rate)
        from stages.narration.speech import write_wav

        write_wav(out_path, samples, rate)
        return NarrationResult(path=out_path, duration=len(samples) / rate, sample_rate=rate, timings=timings)

    def speak(self, text: str, voice: str, request: NarrationRequest, key: str, what: str) -> Any:
        """The one paid request: the SDK's answer (audio and alignment), errors translated and refined."""
        import httpx
        from elevenlabs.client import ElevenLabs

        opts = self.options
        settings = self.voice_settings()
        extra: dict[str, Any] = {"voice_settings": settings} if settings is not None else {}
        if opts.seed is not None:
            extra["seed"] = opts.seed
        with httpx.Client(timeout=opts.timeout_s, follow_redirects=True) as http:
            client = ElevenLabs(api_key=key, base_url=self.endpoint(), timeout=opts.timeout_s, httpx_client=http)

            def request_speech() -> Any:
                return client.text_to_speech.convert_with_timestamps(
                    voice_id=voice, text=text, model_id=opts.model_id, output_format=f"pcm_{opts.sample_rate}",
                    previous_text=request.previous_text or None, next_text=request.next_text or None,
                    request_options={"max_retries": 0}, **extra)

            try:
                return self.paid(f"{opts.model_id}:char", len(text), what, request_speech)
            except StageError as exc:
                raise refined(exc, text, voice) from exc

    def voice_settings(self) -> Any:
        """The VoiceSettings the options give, or None to keep the voice's stored ones."""
        opts = self.options
        given = {name: getattr(opts, name) for name in ("stability", "similarity_boost", "style", "speed")}
        given = {name: value for name, value in given.items() if value is not None}
        if not given:
            return None
        from elevenlabs.types import VoiceSettings

        return VoiceSettings(**given)


def voice_id(voice: str) -> str:
    """An ElevenLabs voice id as given; InputError for anything else (a piper voice path, say)."""
    if not _VOICE_ID.fullmatch(voice):
        raise InputError(f"'{voice}' is not an ElevenLabs voice id",
                         hint="give the character an ElevenLabs voice id (from https://elevenlabs.io/app/voice-lab), "
                              "or drop its voice to use the backend's voice_id option")
    return voice


def speakable_sentences(text: str) -> list[str]:
    """The text's sentences (pysbd, paragraph by paragraph, as the other narrators split); InputError if none speak."""
    from pysbd import Segmenter

    from stages.script.sentences import paragraphs, sentences

    segmenter = Segmenter(language="en", clean=False)  # one per call: a Segmenter keeps per-call state
    found = [s for paragraph in paragraphs(text) for s in sentences(paragraph, segmenter) if _SPEAKABLE.search(s)]
    if not found:
        raise InputError(f"nothing to narrate: the text {text[:60]!r} has no words",
                         hint="give the shot a narration with at least one word")
    return found


def _detail(exc: BaseException) -> dict[str, Any]:
    """The ``detail`` object of an ElevenLabs error answer behind ``exc`` ({} when there is none)."""
    body = getattr(exc, "answer", None)
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


def refined(exc: StageError, text: str, voice: str) -> StageError:
    """The shared classification of an error, sharpened by ElevenLabs' own ``detail.status`` / ``code``."""
    detail = _detail(exc)
    status = str(detail.get("code") or detail.get("status") or "")
    secrets = (os.environ.get(ElevenLabsNarrator.env_keys[0], ""),)
    message = shorten(redact(str(detail.get("message") or exc), secrets), 200)
    if status == "quota_exceeded":
        return AuthError(f"elevenlabs: the account's character quota is exhausted: {message}",
                         hint="top up or upgrade the ElevenLabs plan (or enable usage-based billing), then rerun; "
                              "shots narrated so far are kept")
    if status in REFUSALS or isinstance(exc, ContentRejected):
        return ContentRejected(f"elevenlabs refused to narrate {shorten(text)!r}: {message}",
                               hint="reword this shot's narration in screenplay.yaml, then rerun")
    if status == "voice_not_found":
        return InputError(f"elevenlabs has no voice '{voice}': {message}",
                          hint="use a voice id from your ElevenLabs voices for this character, or the voice_id option")
    return exc


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def decoded(answer: Any, rate: int, what: str) -> tuple[Any, list[tuple[str, float, float]]]:
    """The 16-bit samples and (character, start, end) alignment of an answer; a TransientError (a passing fault
    at the provider, asked again) if it is unusable."""
    import numpy as np

    def unusable(why: str) -> TransientError:
        return TransientError(f"elevenlabs answered the {what} with unusable audio: {why}",
                              hint="a passing fault at the provider; rerun later if retries ran out (each request "
                                   "is billed)")

    try:
        raw = base64.b64decode(_field(answer, "audio_base_64") or "", validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise unusable(f"the audio is not base64 ({exc})") from exc
    if not raw or len(raw) % 2:
        raise unusable(f"{len(raw)} bytes of audio is not 16-bit PCM")
    samples = np.frombuffer(raw, dtype="<i2")
    chars = _field(answer, "alignment") or _field(answer, "normalized_alignment")
    columns = [_field(chars, name) for name in
               ("characters", "character_start_times_seconds", "character_end_times_seconds")]
    if not all(isinstance(column, list) and column for column in columns) or len({len(c) for c in columns}) != 1:
        raise unusable("the character alignment is missing or its lists differ in length")
    try:
        alignment = [(str(c), float(a), float(b)) for c, a, b in zip(*columns)]
    except (TypeError, ValueError) as exc:
        raise unusable(f"the character alignment has a bad time ({exc})") from exc
    if not all(math.isfinite(a) and math.isfinite(b) for _, a, b in alignment):
        raise unusable("the character alignment has a time that is not a number")
    seconds, spoken = len(samples) / rate, max(b for _, _, b in alignment)
    if spoken > seconds + ALIGNMENT_SLACK_S:
        raise unusable(f"{seconds:.2f} s of audio for {spoken:.2f} s of aligned text: the audio was cut short")
    return samples, alignment


def sentence_timings(sentences: list[str], alignment: list[tuple[str, float, float]],
                     duration: float) -> tuple[Timing, ...]:
    """One timing per sentence: from the start of its first aligned character to the end of its last.

    The sentences' visible characters are matched to the alignment's with difflib, so a character the
    provider normalised ("2" spoken as "two") shifts nothing; a sentence with no matched character at all
    gets a zero-length timing where the previous one ended."""
    import difflib

    visible = [(char, start, end) for char, start, end in alignment if char.strip()] or alignment
    spoken = "".join(char for char, _, _ in visible)
    texts = ["".join(sentence.split()) for sentence in sentences]
    matcher = difflib.SequenceMatcher(None, "".join(texts), spoken, autojunk=False)
    mapped = {a + k: b + k for a, b, size in matcher.get_matching_blocks() for k in range(size)}
    timings, offset, previous = [], 0, -1
    for sentence, text in zip(sentences, texts):
        hits = [mapped[i] for i in range(offset, offset + len(text)) if i in mapped]
        offset += len(text)
        first, last = (hits[0], hits[-1]) if hits else (min(previous + 1, len(visible) - 1),) * 2
        start = min(max(visible[first][1], 0.0), duration)
        end = min(max(visible[last][2], start), duration) if hits else start
        timings.append(Timing(text=sentence, start=round(start, 4), end=round(end, 4)))
        previous = max(previous, last)
    return tuple(timings)
