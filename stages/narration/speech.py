"""What the narrators share: sentences in, one padded mono WAV with a timing per sentence out.

A ``SentenceNarrator`` splits the text into sentences with pysbd (paragraph by paragraph, so
hard-wrapped book text and dialogue lines split where a reader would), asks its subclass for
the audio of each sentence as it is read aloud (``spoken``: years, money and numerals in words),
trims each sentence's silence down to ``KEEP_SILENCE``, joins them with ``sentence_pause``
seconds of silence, pads the clip with ``EDGE_SILENCE`` at both ends, normalises the peak to
``PEAK_DBFS`` and writes 16-bit PCM. Each ``Timing`` spans the speech of
one sentence (first to last audible sample), never the pauses.
"""
from __future__ import annotations

import re
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from stages.backend import Backend
from stages.contracts import Frozen, NarrationRequest, NarrationResult, Timing
from stages.errors import InputError
from stages.narration.spoken import spoken
from stages.text import continues

if TYPE_CHECKING:
    import numpy as np

EDGE_SILENCE = 0.15  # seconds of silence at the start and the end of every clip
KEEP_SILENCE = 0.05  # seconds of a sentence's own silence kept around its speech
SILENCE_DB = -40.0  # below this, relative to the sentence's peak, a sample counts as silence
PEAK_DBFS = -1.0  # the clip's loudest sample after normalisation

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SPEAKABLE = re.compile(r"\w")


def _joined(sentences: list[str]) -> list[str]:
    """The sentences, each one pysbd ended too soon (on a title, "Mme.", or on "lbs. of") joined to the next."""
    joined: list[str] = []
    for sentence in sentences:
        if joined and continues(joined[-1], sentence):
            joined[-1] = f"{joined[-1]} {sentence}"
        else:
            joined.append(sentence)
    return joined


class SpeechOptions(Frozen):
    """Options every sentence narrator takes."""

    sentence_pause: float = Field(0.3, ge=0.0, le=5.0, description="seconds of silence between sentences")


class SentenceNarrator(Backend):
    """A narrator that speaks sentence by sentence; subclasses say how the sentences sound."""

    Options = SpeechOptions
    options: SpeechOptions

    def __init__(self, options: SpeechOptions | None = None) -> None:
        super().__init__(options)
        self._segmenter: Any = None  # a pysbd Segmenter, made on first use
        self._segmenter_lock = threading.Lock()

    def narrate(self, request: NarrationRequest, out_path: Path) -> NarrationResult:
        """Speak the text into ``out_path`` (mono 16-bit WAV) with one timing per sentence."""
        sentences = self.sentences(request.text)
        sample_rate, audio = self.synthesize([spoken(sentence) for sentence in sentences], request.voice)
        return write_clip(out_path, sentences, audio, sample_rate, self.options.sentence_pause)

    def sentences(self, text: str) -> list[str]:
        """The speakable sentences of ``text``, whitespace collapsed; InputError when there are none."""
        with self._segmenter_lock:  # a pysbd Segmenter keeps per-call state
            if self._segmenter is None:
                import pysbd

                self._segmenter = pysbd.Segmenter(language="en", clean=False)
            found = [
                sentence.strip()
                for paragraph in _PARAGRAPH_BREAK.split(text)
                if paragraph.strip()
                for sentence in self._segmenter.segment(" ".join(paragraph.split()))
            ]
        found = [sentence for sentence in _joined(found) if _SPEAKABLE.search(sentence)]
        if not found:
            raise InputError(
                f"nothing to narrate: the text {text[:60]!r} has no words",
                hint="give the shot a narration with at least one word",
            )
        return found

    def synthesize(self, sentences: list[str], voice: str | None) -> tuple[int, list[np.ndarray]]:
        """The sample rate and one float audio array (in [-1, 1]) per sentence."""
        raise NotImplementedError


def speech_bounds(audio: np.ndarray) -> tuple[int, int]:
    """First and one-past-last audible sample of ``audio`` ((0, 0) when it is all silence)."""
    import numpy as np

    magnitude = np.abs(audio)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    if peak == 0.0:
        return 0, 0
    loud = np.flatnonzero(magnitude >= peak * 10 ** (SILENCE_DB / 20))
    return int(loud[0]), int(loud[-1]) + 1


def assemble(
    sentences: list[str], audio: list[np.ndarray], sample_rate: int, pause: float
) -> tuple[np.ndarray, tuple[Timing, ...]]:
    """Trim, join and pad the sentences' audio; return the float clip and its timings."""
    import numpy as np

    keep, edge = round(KEEP_SILENCE * sample_rate), round(EDGE_SILENCE * sample_rate)
    gap = np.zeros(round(pause * sample_rate), dtype=np.float32)
    pieces, cursor = [np.zeros(edge, dtype=np.float32)], edge
    timings: list[Timing] = []
    for sentence, samples in zip(sentences, audio, strict=True):
        start, end = speech_bounds(samples)
        if start == end:
            continue
        lo, hi = max(0, start - keep), min(len(samples), end + keep)
        if timings:
            pieces.append(gap)
            cursor += len(gap)
        pieces.append(np.asarray(samples[lo:hi], dtype=np.float32))
        timings.append(
            Timing(text=sentence, start=(cursor + start - lo) / sample_rate, end=(cursor + end - lo) / sample_rate)
        )
        cursor += hi - lo
    if not timings:
        raise InputError(f"the voice made no sound for {' '.join(sentences)[:60]!r}", hint="check the text and voice")
    pieces.append(np.zeros(edge, dtype=np.float32))
    return np.concatenate(pieces), tuple(timings)


def to_pcm16(clip: np.ndarray) -> np.ndarray:
    """The float clip with its peak at ``PEAK_DBFS``, as 16-bit samples."""
    import numpy as np

    peak = float(np.abs(clip).max()) if clip.size else 0.0
    gain = 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    return np.round(np.clip(clip * gain, -1.0, 1.0) * 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit mono samples to ``path`` as a PCM WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def write_clip(
    out_path: Path, sentences: list[str], audio: list[np.ndarray], sample_rate: int, pause: float
) -> NarrationResult:
    """Assemble the sentences into ``out_path`` and describe the result."""
    clip, timings = assemble(sentences, audio, sample_rate, pause)
    samples = to_pcm16(clip)
    write_wav(out_path, samples, sample_rate)
    return NarrationResult(
        path=out_path, duration=len(samples) / sample_rate, sample_rate=sample_rate, timings=timings
    )
