"""The screenplay schema an LLM screenwriter is given (stages.script.llm_schema), checked against the record of
what was sent before it was generated from the contracts (tests/data/screenplay_tool_schema.json), and the strict
form of a model's JSON schema it is made with (stages.script.strict_schema)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from stages.script.llm_schema import INPUT_SCHEMA
from stages.script.strict_schema import strict_schema

RECORDED = Path(__file__).parent / "data" / "screenplay_tool_schema.json"


def test_the_schema_is_the_recorded_one_byte_for_byte():
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert INPUT_SCHEMA == recorded
    assert json.dumps(INPUT_SCHEMA) == json.dumps(recorded)  # key order too: the same prompt, tokens and estimate


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
