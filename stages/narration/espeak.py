"""eSpeak NG narration: a small, robotic but dependable fallback with no model files.

Loads the libespeak-ng bundled by ``espeakng-loader`` through ctypes and synthesises into
memory. Voices are eSpeak NG voice names, optionally with a variant: ``en-gb`` (default),
``en-us``, ``en-gb-scotland``, ``en-gb+f3`` (a female variant), ``en-us+m3`` and so on.
Options: ``rate_wpm`` (words per minute) and ``sentence_pause`` (seconds between sentences).
The library is one global engine, so every call is serialised by a module lock.

Determinism: eSpeak NG keeps its pitch-flutter phase and waveform state across calls (static
variables that no API resets), so repeating a request gives audio that differs in its last
digits and by a few milliseconds in length; the same sequence of requests in a fresh process
repeats exactly.
"""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from stages.errors import InputError, StageError
from stages.narration.speech import SentenceNarrator, SpeechOptions

if TYPE_CHECKING:
    import numpy as np

DEFAULT_VOICE = "en-gb"

# from espeak-ng's speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_EE_OK = 0

_LOCK = threading.Lock()  # guards the engine, its settings and _chunks
_chunks: list[bytes] = []
_engine: tuple[ctypes.CDLL, int] | None = None


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]  # fmt: skip


@ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
def _collect(wav: Any, count: int, _events: int) -> int:  # wav: a POINTER(c_short)
    if wav and count > 0:
        _chunks.append(ctypes.string_at(wav, count * 2))
    return 0  # carry on


class EspeakOptions(SpeechOptions):
    """How eSpeak NG speaks."""

    rate_wpm: int = Field(165, ge=80, le=450, description="speaking rate in words per minute")


class EspeakNarrator(SentenceNarrator):
    """Narrates with eSpeak NG."""

    name = "espeak"
    version = "3"  # years, money and numerals read in words
    Options = EspeakOptions
    options: EspeakOptions
    packages = ("espeakng_loader", "pysbd")

    def synthesize(self, sentences: list[str], voice: str | None) -> tuple[int, list[np.ndarray]]:
        """The engine's sample rate and the audio of each sentence."""
        import numpy as np

        name = voice or DEFAULT_VOICE
        with _LOCK:
            library, sample_rate = engine()
            _select_or_refuse(library, name)
            library.espeak_SetParameter(_RATE, self.options.rate_wpm, 0)
            audio = []
            for sentence in sentences:
                pcm = _speak(library, sentence)
                audio.append(np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0)
        return sample_rate, audio

    def check_voice(self, voice: str | None) -> None:
        """Raise InputError unless eSpeak NG knows ``voice``."""
        with _LOCK:
            _select_or_refuse(engine()[0], voice or DEFAULT_VOICE)


def _select_or_refuse(library: ctypes.CDLL, name: str) -> None:
    if not select_voice(library, name):
        raise InputError(f"unknown espeak voice '{name}'",
                         hint=f"use an eSpeak NG voice name such as {DEFAULT_VOICE}, en-us or en-gb+f3 "
                              "(a female variant)")


def engine() -> tuple[ctypes.CDLL, int]:
    """The initialised library and its sample rate; call with ``_LOCK`` held."""
    global _engine
    if _engine is None:
        import espeakng_loader

        library = ctypes.CDLL(espeakng_loader.get_library_path())
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        library.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        library.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data = espeakng_loader.get_data_path().encode()
        sample_rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if sample_rate <= 0:
            raise StageError(
                f"espeak-ng failed to start (error {sample_rate})",
                hint="reinstall espeakng-loader: pip install --force-reinstall espeakng-loader",
            )
        library.espeak_SetSynthCallback(_collect)
        _engine = library, sample_rate
    return _engine


def select_voice(library: ctypes.CDLL, name: str) -> bool:
    """Make ``name`` (a voice file, name or language code, with an optional +variant) current."""
    import espeakng_loader

    language, plus, variant = name.partition("+")
    if plus and not (Path(espeakng_loader.get_data_path()) / "voices" / "!v" / variant).is_file():
        return False  # eSpeak NG quietly ignores unknown variants
    if library.espeak_SetVoiceByName(name.encode()) == _EE_OK:
        return True
    # a language code such as "en-gb" names no voice file ("en" speaks it): look it up
    voices = library.espeak_ListVoices(None)
    index = 0
    while voices[index]:
        voice = voices[index].contents
        if voice.languages and language.lower() in _languages(voice.languages):
            return library.espeak_SetVoiceByName(voice.identifier + (plus + variant).encode()) == _EE_OK
        index += 1
    return False


def _languages(packed: int) -> list[str]:
    found, offset = [], 0
    while ctypes.string_at(packed + offset, 1) != b"\0":  # each entry: priority byte, name, NUL
        language = ctypes.string_at(packed + offset + 1)
        found.append(language.decode().lower())
        offset += len(language) + 2
    return found


def _speak(library: ctypes.CDLL, sentence: str) -> bytes:
    text = sentence.encode()
    _chunks.clear()
    status = library.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    if status != _EE_OK or library.espeak_Synchronize() != _EE_OK:
        raise StageError(f"espeak-ng could not speak {sentence[:60]!r} (error {status})")
    pcm = b"".join(_chunks)
    _chunks.clear()
    return pcm
