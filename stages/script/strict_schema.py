"""A pydantic model's JSON schema in the form LLM providers take for a tool's input or a structured answer.

Anthropic's tools (strict or not) and OpenAI's ``response_format: json_schema`` in strict mode share a subset of
JSON Schema: every object lists all its properties as required and allows no others, and string or number bounds
(minLength, minimum, ...) are not taken. So every reference is inlined (no ``$defs``), every object is closed, and
only the keywords in ``KEPT`` are written: the bounds in ``LEFT_TO_VALIDATION`` are checked by the model's own
validation, whose errors go back to the LLM in a repair round, and a field's default is what validation gives a
value the LLM leaves out, though the schema asks for every field. A keyword in neither list has no strict form
(a fixed-length tuple, a dict of free keys, ...): it is refused rather than silently dropped.
"""
from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

# the keywords written, in this order (the order of the schema once written by hand, so the wire kept its bytes)
KEPT = ("type", "minItems", "items", "enum", "anyOf", "properties", "required", "additionalProperties", "description")
LEFT_TO_VALIDATION = frozenset({"title", "default", "minLength", "maxLength", "pattern", "minimum", "maximum",
                                "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "maxItems"})


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with references inlined, every object closed and all its properties required."""
    schema = copy.deepcopy(model.model_json_schema())  # deep: an enum list may be the model's own object
    defs = schema.pop("$defs", {})
    schema.pop("description", None)  # the class docstring: written for developers, not for the LLM
    return _strict(schema, defs, ())


def _strict(node: dict[str, Any], defs: dict[str, Any], inside: tuple[str, ...]) -> dict[str, Any]:
    """One schema node in strict form; ``inside`` names the models being inlined around it (a loop is refused)."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        if name in inside:
            raise ValueError(f"{name} contains itself: a recursive model has no inlined schema")
        body = {key: value for key, value in defs[name].items() if key != "description"}  # its docstring, as above
        return _strict(body | {key: value for key, value in node.items() if key != "$ref"}, defs, (*inside, name))
    unknown = set(node) - set(KEPT) - LEFT_TO_VALIDATION
    if unknown or ("additionalProperties" in node and "properties" not in node):
        raise ValueError(f"no strict schema for {', '.join(sorted(unknown)) or 'an object of free keys'} in {node}")
    out = {key: node[key] for key in KEPT if key in node}
    if "items" in out:
        out["items"] = _strict(out["items"], defs, inside)
    if "anyOf" in out:
        out["anyOf"] = [_strict(option, defs, inside) for option in out["anyOf"]]
    if "properties" in out:
        out["properties"] = {name: _strict(value, defs, inside) for name, value in out["properties"].items()}
        out["required"], out["additionalProperties"] = list(out["properties"]), False
    return {key: out[key] for key in KEPT if key in out}
