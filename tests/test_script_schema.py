"""The screenplay schema an LLM screenwriter is given (stages.script.llm_schema), checked against the record of
what was sent before it was generated from the contracts (tests/data/screenplay_tool_schema.json)."""
from __future__ import annotations

import json
from pathlib import Path

from stages.script.llm_schema import INPUT_SCHEMA

RECORDED = Path(__file__).parent / "data" / "screenplay_tool_schema.json"


def test_the_schema_is_the_recorded_one_byte_for_byte():
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert INPUT_SCHEMA == recorded
    assert json.dumps(INPUT_SCHEMA) == json.dumps(recorded)  # key order too: the same prompt, tokens and estimate
