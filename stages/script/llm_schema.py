"""What an LLM screenwriter shares with any provider: the screenplay tool (its schema generated from the contracts
in stages.script.draft), the prompts, chunking of a long text at paragraph boundaries, validation of the model's
answer and the assembly of the parts.

The model writes scenes of shots without numbers; shots and scenes are numbered here, in film order across
every part. A part whose first scene has the same setting as the previous part's last scene continues it.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from stages.contracts import Character, Scene, Screenplay, ScriptRequest, Shot
from stages.script.checked import field_errors, new_shot
from stages.script.draft import DraftPart, DraftScene, screenplay_schema
from stages.script.sentences import alias_table

TOOL_NAME = "write_screenplay"
INPUT_SCHEMA: dict[str, Any] = screenplay_schema()
TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Record the screenplay of this part of the text: its scenes, each a run of narrated shots.",
    "input_schema": INPUT_SCHEMA,
}
SYSTEM = """\
You are a screenwriter adapting a book into a narrated, illustrated film. You receive one part of the text \
and call the write_screenplay tool once with its scenes and shots, in the order of the text.

Rules:
- Narration is the book's own words, copied verbatim: every shot narrates 1-3 consecutive sentences \
(5-12 seconds spoken). Together the shots cover the whole part, in order, skipping and changing nothing.
- A new scene starts where the place or the time changes.
- speaker is "narrator" unless the narration is the spoken words of a character; then it is that character's \
name exactly as given in the character list. characters lists the names (from the list, exactly as given) \
of the characters seen in the picture.
- image_prompt describes the picture, not the words: the subject, the place, the action, the light and the \
framing, with each visible character's appearance from their description, in the given visual style. The \
image model knows no names, so describe people by their looks. Keep the style consistent from shot to shot.
- motion is a gentle camera move suited to the shot; mood and time_of_day follow the text."""


def chunks(text: str, limit: int) -> list[str]:
    """The text cut at paragraph boundaries into parts of at most ``limit`` characters (a longer paragraph
    alone is cut at sentence ends)."""
    pieces: list[tuple[str, str]] = []  # (text, what joins it to the piece before: a paragraph break or a space)
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if len(paragraph) > limit:
            sentences = [s for s in re.split(r"(?<=[.!?…\"”’])\s+", paragraph) if s]
            pieces.extend((s, "\n\n" if i == 0 else " ") for i, s in enumerate(sentences))
        elif paragraph:
            pieces.append((paragraph, "\n\n"))
    parts: list[str] = []
    for piece, joint in pieces:
        if parts and len(parts[-1]) + len(joint) + len(piece) <= limit:
            parts[-1] += joint + piece
        else:
            parts.append(piece)
    return parts


def _cast(characters: tuple[Character, ...]) -> str:
    lines = []
    for c in characters:
        aliases = [a for a in c.aliases if a.lower() != c.name.lower()]
        also = f" (also called {', '.join(aliases)})" if aliases else ""
        lines.append(f"- {c.name}{also}: {c.description or 'no description given'}")
    return "\n".join(lines) or "(none given: use 'narrator' as speaker and describe people by their looks)"


def user_message(request: ScriptRequest, part: str, index: int, total: int, before: str) -> str:
    """The user turn for part ``index`` of ``total``: title, style, characters, where the last part ended, text."""
    where = f"\nWhere the previous part ended: {before}\n" if before else ""
    return (f"Film: {request.title}\nVisual style: {request.style or 'not given; choose one and keep to it'}\n"
            f"Characters:\n{_cast(request.characters)}\n\nThis is part {index} of {total} of the text.{where}\n"
            f"<text>\n{part}\n</text>\n\nCall {TOOL_NAME} with the scenes and shots of this part.")


def summary(part: DraftPart) -> str:
    """Where a part ended, for the next part's prompt: last setting, mood, cast and narration."""
    scene, shot = part.scenes[-1], part.scenes[-1].shots[-1]
    cast = ", ".join(shot.characters) or "no named character"
    last = shot.narration if len(shot.narration) <= 300 else "…" + shot.narration[-300:]
    return (f"scene setting '{scene.setting}' ({scene.mood}, {shot.time_of_day}), {cast} in view; "
            f"its last narration was: \"{last}\"")


def validate(data: Any) -> tuple[DraftPart | None, list[str]]:
    """The tool input as a DraftPart, or None and the problems as 'field.path: message' lines."""
    try:
        return DraftPart.model_validate(data), []
    except ValidationError as exc:
        errors = field_errors(exc)
    return None, [f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in errors]


def assemble(request: ScriptRequest, parts: list[DraftPart]) -> Screenplay:
    """The screenplay of all parts: shots numbered 1..N in film order, names set to the project's spelling."""
    names = dict(alias_table(request.characters))

    def proper(name: str) -> str:
        return names.get(name.strip().lower(), name.strip())

    scenes: list[tuple[DraftScene, list[Shot]]] = []
    number = 0
    for p, part in enumerate(parts):
        for s, draft in enumerate(part.scenes):
            shots = []
            for shot in draft.shots:
                number += 1
                cast = tuple(dict.fromkeys(proper(c) for c in shot.characters if c.strip()))
                speaker = "narrator" if shot.speaker.strip().lower() in ("", "narrator") else proper(shot.speaker)
                shots.append(new_shot(None, shot=number, narration=shot.narration.strip(), speaker=speaker,
                                      characters=cast, image_prompt=shot.image_prompt.strip(),
                                      motion=shot.motion or "slow push in", mood=shot.mood or "calm",
                                      time_of_day=shot.time_of_day or "day"))
            same_place = scenes and draft.setting.strip().lower() == scenes[-1][0].setting.strip().lower()
            if p > 0 and s == 0 and same_place:
                scenes[-1][1].extend(shots)
            else:
                scenes.append((draft, shots))
    return Screenplay(title=request.title, scenes=tuple(
        Scene(scene=i, setting=draft.setting.strip(), mood=draft.mood or "calm", shots=tuple(shots))
        for i, (draft, shots) in enumerate(scenes, start=1)))
