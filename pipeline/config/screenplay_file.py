"""``screenplay.yaml``: the user's editable script, and the record of what we generated last."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.config.yamlfile import YamlDocument
from pipeline.errors import UserError
from stages.contracts import Screenplay
from stages.files import write_bytes_atomic, write_json_atomic, write_text_atomic

HEADER = """\
# The screenplay of this film. It is yours: edit narration, image prompts, motion, speakers,
# delete shots or add new ones (give a new shot an unused 'shot' number; the list order is the film order).
# `film make` keeps your edits and recomputes only what an edit affects.
"""
SCREENPLAY_HINT = "fix screenplay.yaml (or delete it and run `film make` to write a fresh one)"


def dump(screenplay: Screenplay) -> str:
    """The screenplay as readable YAML with a header comment."""
    data = screenplay.model_dump(mode="json")
    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def load(path: Path) -> Screenplay:
    """Parse and validate an (possibly hand-edited) screenplay file."""
    document = YamlDocument.read(path, "screenplay")
    screenplay = document.validate(Screenplay, SCREENPLAY_HINT)
    seen: dict[int, int] = {}
    for s_index, scene in enumerate(screenplay.scenes):
        for index, shot in enumerate(scene.shots):
            if shot.shot in seen:
                loc = ("scenes", s_index, "shots", index, "shot")
                raise UserError(
                    f"{document.where(loc)}: {'.'.join(map(str, loc))}: shot number {shot.shot} is used twice",
                    "give every shot its own number",
                )
            seen[shot.shot] = index
    return screenplay


def text_digest(text: str) -> str:
    """Hash of a screenplay file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class ScreenplayFiles:
    """The user's screenplay file and our note of the version we wrote into it."""

    path: Path
    state_path: Path

    def state(self) -> dict:
        """What we generated last: the script key and the digest of the text we wrote."""
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def edited(self) -> bool:
        """Whether the file differs from what we generated (a user edit)."""
        if not self.path.is_file():
            return False
        text = self.path.read_bytes().decode("utf-8", "replace")  # not UTF-8: edited; reading it says what is wrong
        return text_digest(text) != self.state().get("generated")

    def generated_from(self) -> str | None:
        """The script key the file was generated from."""
        return self.state().get("script_key")

    def backup(self) -> Path:
        """Copy the user's file aside before it is replaced; returns the copy's path."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"screenplay.backup-{stamp}.yaml")
        write_bytes_atomic(target, self.path.read_bytes())
        return target

    def write_generated(self, text: str, script_key: str) -> None:
        """Write a freshly generated screenplay and remember it as ours."""
        write_text_atomic(self.path, text)
        write_json_atomic(self.state_path, {"script_key": script_key, "generated": text_digest(text)})
