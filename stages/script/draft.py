"""The screenplay as an LLM writes it, derived from the contracts' Shot, Scene and Screenplay: the same fields,
defaults, checks and descriptions, less the numbers (shots and scenes are numbered in film order across the parts
when they are assembled) and the title (the project's). A field left out gets its default and an unknown key is
ignored, so neither costs a repair round; ``screenplay_schema()`` still asks for every field and no other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, create_model

from stages.contracts import Scene, Screenplay, Shot
from stages.script.strict_schema import strict_schema


def derived(model: type[BaseModel], name: str, doc: str, *, without: str, **types: Any) -> type[BaseModel]:
    """A model named ``name`` with ``model``'s fields but ``without``, the field types in ``types`` swapped in."""
    fields: dict[str, Any] = {key: (types.get(key, info.annotation), info)
                              for key, info in model.model_fields.items() if key != without}
    return create_model(name, __config__=ConfigDict(extra="ignore"), __doc__=doc, **fields)


if TYPE_CHECKING:  # to a type checker, a draft reads as the model it is derived from
    DraftShot = Shot
    DraftScene = Scene
    DraftPart = Screenplay
else:
    DraftShot = derived(Shot, "DraftShot", "A shot as the model writes it: no number yet.", without="shot")
    DraftScene = derived(Scene, "DraftScene", "A scene as the model writes it: no number yet.", without="scene",
                         shots=tuple[DraftShot, ...])
    DraftPart = derived(Screenplay, "DraftPart", "The tool input for one part of the text: its scenes.",
                        without="title", scenes=tuple[DraftScene, ...])


def screenplay_schema() -> dict[str, Any]:
    """The JSON schema of one part's screenplay as the LLM writes it: a tool's input schema or a structured answer's."""
    return strict_schema(DraftPart)
