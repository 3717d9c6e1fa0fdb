"""The ``rules`` screenwriter: a deterministic, offline cut of a text into scenes of narrated shots.

Paragraphs are split into sentences (pysbd), sentences are grouped into shots of about
``min_seconds..max_seconds`` of narration without crossing a paragraph, and shots are grouped into
scenes at the turns between narration and dialogue and at decorative breaks ("* * *", never narrated).
Speakers, characters, mood, time of day, setting and the image prompt all come from keywords and the
project's characters.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pydantic import Field, model_validator
from pysbd import Segmenter

from stages.backend import Backend
from stages.contracts import Character, Frozen, Scene, Screenplay, ScriptRequest
from stages.errors import InputError
from stages.script import prompts
from stages.script.checked import new_shot
from stages.script.sentences import (
    Turns,
    addressee,
    alias_table,
    attribution,
    balanced_groups,
    gender,
    is_speech,
    outside_quotes,
    quote_spans,
    sections,
    sentences,
    split_speech,
    word_count,
)


class RulesOptions(Frozen):
    """How long shots and scenes may be, and the defaults for what the text does not say."""

    min_seconds: float = Field(5.0, gt=0, description="shortest shot aimed at, in seconds of narration")
    max_seconds: float = Field(12.0, gt=0, description="longest shot aimed at, in seconds of narration")
    words_per_second: float = Field(2.6, gt=0, description="narration speed used to estimate shot length")
    max_sentences: int = Field(3, ge=1, description="most sentences in one shot")
    max_shots_per_scene: int = Field(8, ge=1, description="most shots in one scene; a longer run of narration or "
                                                          "dialogue is cut into scenes of this size")
    default_setting: str = Field("an English country house interior", min_length=1,
                                 description="setting of a scene whose narration names no place")
    motions: tuple[str, ...] = Field(("slow push in", "pan right", "slow pull out", "pan left", "drift up"),
                                     min_length=1, description="camera moves, taken in turn shot by shot")
    max_prompt_chars: int = Field(600, ge=200, description="longest image prompt written for a shot")

    @model_validator(mode="after")
    def _ordered(self) -> RulesOptions:
        if self.min_seconds > self.max_seconds:
            raise ValueError("min_seconds must not exceed max_seconds")
        return self


_Slot = tuple[int, int, str]  # (paragraph index, shot index within it, narration)


@dataclass
class _Paragraph:
    text: str
    pieces: list[str]  # narration of each of its shots
    speech: bool  # it quotes someone
    dialogue: bool  # it belongs to a run of dialogue (quoted, or a short aside between quotes)
    opens: bool = False  # it follows a decorative break: a new scene and a new exchange start here
    speaker: str | None = None
    listener: str | None = None
    casts: tuple[tuple[str, ...], ...] = ()  # characters present in each of its shots


class RulesScriptWriter(Backend):
    """Deterministic offline screenwriter built on sentence segmentation and keyword rules."""

    name = "rules"
    version = "2"  # words of any alphabet in prompts
    Options = RulesOptions
    options: RulesOptions
    packages = ("pysbd",)

    def write(self, request: ScriptRequest) -> Screenplay:
        """Split the text into scenes and shots."""
        if not request.text.strip():
            hint = "give the script stage some story text: check source.chapter or the start/end markers"
            raise InputError("the source text is empty", hint=hint)
        segmenter = Segmenter(language="en", clean=False)
        table = alias_table(request.characters)
        paras = self._paragraphs(request.text, segmenter)
        if not paras:
            raise InputError("the source text has no words to narrate, only ornaments or punctuation",
                             hint="check source.chapter or the start/end markers")
        self._attribute(paras, table, request.characters)
        self._cast(paras, table, {c.name: gender(c) for c in request.characters})
        scenes: list[Scene] = []
        for number, (continues, chunk) in enumerate(self._scene_chunks(paras), start=1):
            scenes.append(self._scene(number, chunk, continues, scenes, paras, table, request))
        return Screenplay(title=request.title, scenes=tuple(scenes))

    def _paragraphs(self, text: str, segmenter: Segmenter) -> list[_Paragraph]:
        """Each paragraph cut into shot-sized pieces, whether it belongs to a run of dialogue and whether a
        decorative break comes before it."""
        o = self.options
        max_words = o.max_seconds * o.words_per_second
        paras: list[_Paragraph] = []
        for section in sections(text):
            for k, body in enumerate(section):
                units = [unit for sentence in sentences(body, segmenter)
                         for unit in split_speech(sentence, segmenter, max_words)]
                seconds = [word_count(unit) / o.words_per_second for unit in units]
                groups = balanced_groups(seconds, o.min_seconds, o.max_seconds, o.max_sentences)
                pieces = [" ".join(units[i] for i in group) for group in groups]
                paras.append(_Paragraph(body, pieces, is_speech(body), False, opens=k == 0 and bool(paras)))
        for i, para in enumerate(paras):
            between = 0 < i < len(paras) - 1 and not para.opens and not paras[i + 1].opens
            aside = between and paras[i - 1].speech and paras[i + 1].speech and len(para.pieces) == 1
            para.dialogue = para.speech or aside
        return paras

    @staticmethod
    def _attribute(paras: list[_Paragraph], table: list[tuple[str, str]], characters: tuple[Character, ...]) -> None:
        """Set the speaker and listener of each quoted paragraph; asides between quotes keep the exchange going."""
        turns = Turns(characters)
        cast = {c.name for c in characters}
        carried = None  # speaker of a quotation left open at the end of the previous paragraph
        for para in paras:
            named = prompts.mentions(para.text, table)
            if para.opens:
                turns.reset(())
                carried = None
            if not para.dialogue:
                turns.reset(named)
                carried = None
                continue
            name, pronoun = attribution(para.text, table)
            if not para.speech:
                turns.note(named)
                if name:
                    turns.speak(name)
                continue
            speaker = carried or turns.resolve(name, pronoun)
            turns.note(named)
            if speaker:
                turns.speak(speaker, addressee(para.text, table))
                listener = turns.listener(speaker)
                para.speaker = speaker if speaker in cast else None
                para.listener = listener if listener in cast else None
            carried = speaker if quote_spans(para.text)[1] else None

    @staticmethod
    def _cast(paras: list[_Paragraph], table: list[tuple[str, str]], genders: dict[str, str | None]) -> None:
        """Characters in each shot: those it names, its speaker and listener, and in narration those that
        its pronouns point back to (within this paragraph and the one before)."""
        before: list[str] = []
        for para in paras:
            recent, casts = ([] if para.opens else list(before)), []
            for piece in para.pieces:
                named = list(prompts.mentions(piece, table))
                if para.speaker is None:
                    aside = " ".join(outside_quotes(piece))
                    taken = {genders[n] for n in named}
                    named += [n for n in prompts.pronoun_references(aside, recent, genders) if genders[n] not in taken]
                cast = tuple(dict.fromkeys([*named, *filter(None, (para.speaker, para.listener))]))
                recent = [n for n in recent if n not in cast] + list(cast)
                casts.append(cast)
            para.casts = tuple(casts)
            before = [n for n in recent if any(n in cast for cast in casts)]

    def _scene_chunks(self, paras: list[_Paragraph]) -> list[tuple[bool, list[_Slot]]]:
        """Scenes as lists of shot slots: runs of narration or of dialogue, cut at the
        scene size; each flagged with whether it continues the run of the scene before."""
        limit = self.options.max_shots_per_scene
        chunks: list[tuple[bool, list[_Slot]]] = []
        current: list[_Slot] = []
        continues = False
        for i, para in enumerate(paras):
            shots = [(i, k, piece) for k, piece in enumerate(para.pieces)]
            turn = bool(current) and paras[current[-1][0]].dialogue != para.dialogue
            if current and (para.opens or turn or len(current) + len(shots) > limit):
                chunks.append((continues, current))
                current, continues = [], not (turn or para.opens)
            current += shots
            while len(current) > limit:
                chunks.append((continues, current[:limit]))
                current, continues = current[limit:], True
        return chunks + ([(continues, current)] if current else [])

    def _scene(self, number: int, chunk: list[_Slot], continues: bool, before: list[Scene],
               paras: list[_Paragraph], table: list[tuple[str, str]], request: ScriptRequest) -> Scene:
        o = self.options
        indices = list(dict.fromkeys(i for i, _, _ in chunk))
        narration = [stretch for i in indices for stretch in outside_quotes(paras[i].text)]
        place = prompts.setting(narration) or (before[-1].setting if continues else o.default_setting)
        first = sum(len(scene.shots) for scene in before) + 1
        by_name = {c.name: c for c in request.characters}
        shots, time = [], "day"
        for offset, (i, piece, text) in enumerate(chunk):
            para = paras[i]
            cast = para.casts[piece]
            time = prompts.time_of_day(text) or time
            feel = prompts.mood(text)
            subject = prompts.subject(speaker=para.speaker, listener=para.listener, present=cast,
                                      phrases=prompts.key_phrases(text, table))
            prompt = prompts.image_prompt(subject=subject, setting=place, time=time, shot_mood=feel,
                                          cast=tuple(by_name[n] for n in cast), style=request.style,
                                          limit=o.max_prompt_chars)
            shot = first + offset
            shots.append(new_shot(para.text, shot=shot, narration=text, speaker=para.speaker or "narrator",
                                  characters=cast, image_prompt=prompt, mood=feel, time_of_day=time,
                                  motion=o.motions[(shot - 1 + request.seed) % len(o.motions)]))
        mood = Counter(s.mood for s in shots).most_common(1)[0][0]
        return Scene(scene=number, setting=place, mood=mood, shots=tuple(shots))
