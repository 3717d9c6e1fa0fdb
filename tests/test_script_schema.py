"""The screenplay schema an LLM screenwriter is given (stages.script.llm_schema), checked against the record of
what was sent before it was generated from the contracts (tests/data/screenplay_tool_schema.json), and the strict
form of a model's JSON schema it is made with (stages.script.strict_schema)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from stages.contracts import TIMES_OF_DAY, Scene, Screenplay, Shot
from stages.script.draft import DraftPart, derived, screenplay_schema
from stages.script.llm_schema import INPUT_SCHEMA, validate
from stages.script.strict_schema import strict_schema

RECORDED = Path(__file__).parent / "data" / "screenplay_tool_schema.json"


def test_the_schema_is_the_recorded_one_byte_for_byte():
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert INPUT_SCHEMA == recorded
    assert json.dumps(INPUT_SCHEMA) == json.dumps(recorded)  # key order too: the same prompt, tokens and estimate


def test_every_field_the_llm_writes_is_in_the_schema_with_the_contracts_description():
    part = screenplay_schema()
    scene = part["properties"]["scenes"]["items"]
    shot = scene["properties"]["shots"]["items"]
    for schema, model, numbered in ((part, Screenplay, "title"), (scene, Scene, "scene"), (shot, Shot, "shot")):
        written = {name: info for name, info in model.model_fields.items() if name != numbered}
        assert list(schema["properties"]) == schema["required"] == list(written)  # in the contract's order
        assert schema["additionalProperties"] is False
        for name, info in written.items():
            assert schema["properties"][name].get("description") == info.description, name
    assert shot["properties"]["time_of_day"]["enum"] == list(TIMES_OF_DAY)


def test_a_field_added_to_a_shot_reaches_its_draft_and_schema():
    longer = create_model("LongerShot", __base__=Shot, lens=(str, Field("50 mm", description="the lens")))
    draft = derived(longer, "LongerDraft", "A longer shot as written.", without="shot")
    schema = strict_schema(draft)
    assert schema["properties"]["lens"] == {"type": "string", "description": "the lens"}
    assert schema["required"][-1] == "lens" and "shot" not in schema["properties"]
    assert draft.model_validate({"narration": "Hi.", "image_prompt": "a hall"}).lens == "50 mm"


def test_a_draft_fills_what_the_llm_left_out_ignores_extra_keys_and_checks_as_the_contract_does():
    part = DraftPart.model_validate({"scenes": [{"shots": [{"narration": "Hi.", "image_prompt": "a hall",
                                                            "shot": 7, "camera": "wide"}]}]})
    [scene] = part.scenes
    [shot] = scene.shots
    assert (scene.setting, scene.mood) == ("", "calm")
    assert shot.model_dump() == {"narration": "Hi.", "speaker": "narrator", "characters": (), "image_prompt": "a hall",
                                 "motion": "slow push in", "mood": "calm", "time_of_day": "day"}
    draft, problems = validate({"scenes": [{"shots": [{"narration": "…", "image_prompt": ""}]}]})
    assert draft is None and [p.split(":")[0] for p in problems] == ["scenes.0.shots.0.narration",
                                                                     "scenes.0.shots.0.image_prompt"]


class Leaf(BaseModel):
    """A docstring for developers: not sent."""

    model_config = ConfigDict(extra="ignore")
    word: str = Field(min_length=1, description="one word")
    colour: str = Field("red", json_schema_extra={"enum": ["red", "blue"]})


class Tree(BaseModel):
    leaves: tuple[Leaf, ...] = Field(min_length=1, description="the leaves")
    note: str | None = None


def test_a_strict_schema_inlines_references_and_closes_every_object():
    leaf = {"type": "object",
            "properties": {"word": {"type": "string", "description": "one word"},
                           "colour": {"type": "string", "enum": ["red", "blue"]}},
            "required": ["word", "colour"], "additionalProperties": False}
    assert strict_schema(Tree) == {
        "type": "object",
        "properties": {"leaves": {"type": "array", "minItems": 1, "items": leaf, "description": "the leaves"},
                       "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["leaves", "note"],  # even those with a default: validation fills them when left out
        "additionalProperties": False}


def test_a_strict_schema_is_a_copy():
    strict_schema(Tree)["properties"]["leaves"]["items"]["properties"]["colour"]["enum"].append("green")
    assert "green" not in Leaf.model_json_schema()["properties"]["colour"]["enum"]


class Loop(BaseModel):
    children: tuple[Loop, ...] = ()


class Pair(BaseModel):
    pair: tuple[int, str]


class Table(BaseModel):
    counts: dict[str, int]


def test_what_has_no_strict_form_is_refused():
    with pytest.raises(ValueError, match="Loop contains itself"):
        strict_schema(Loop)
    with pytest.raises(ValueError, match="prefixItems"):
        strict_schema(Pair)
    with pytest.raises(ValueError, match="an object of free keys"):
        strict_schema(Table)
