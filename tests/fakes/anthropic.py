"""Fake Anthropic Messages API: POST /anthropic/v1/messages answering a forced ``write_screenplay`` tool call.

The screenplay is built from the text between <text> and </text> in the first user turn: one scene per
paragraph (all set in "the old hall"), one shot per pair of sentences, narration verbatim. The key is checked
(``x-api-key`` or ``Authorization: Bearer``, as SDK versions send it) and ``anthropic-version`` must be there.

Provider faults, matched against "<path> part=<i>/<n>" so a test can aim one at a part (route="part=2/"):
``reject`` (stop_reason refusal), ``max_tokens`` (cut off, partial input), ``invalid`` (the first shot lacks
its narration, so a repair round fixes it), ``invalid_twice`` (that answer and the repair are both invalid),
``overloaded`` (529 overloaded_error), ``filtered`` (400: the output was blocked by the content filter),
``no_usage`` (a good answer whose usage object is empty).
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.fakes.server import FakeState, Fault

KEY = "sk-ant-fake-key-0123456789"
SETTING = "the old hall"
KINDS = ("reject", "max_tokens", "invalid", "invalid_twice", "overloaded", "filtered", "no_usage")


def _error(status: int, kind: str, message: str) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return Response(json.dumps(body), status, media_type="application/json")


def _names(prompt: str) -> list[str]:
    """The character names listed in the prompt ("- Name (also called …): description")."""
    block = prompt.split("Characters:\n", 1)[-1].split("\n\n", 1)[0]
    return [m.group(1).strip() for m in re.finditer(r"^- (.+?)(?: \(also called [^)]*\))?: ", block, re.M)]


def screenplay(prompt: str) -> dict[str, Any]:
    """The tool input for the text in ``prompt``: a scene per paragraph, a shot per two sentences."""
    text = prompt.split("<text>\n", 1)[1].split("\n</text>", 1)[0]
    names = _names(prompt)
    scenes = []
    for paragraph in (p.strip() for p in text.split("\n\n") if p.strip()):
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if s]
        shots = []
        for i in range(0, len(sentences), 2):
            narration = " ".join(sentences[i:i + 2])
            shots.append({"narration": narration, "speaker": "narrator",
                          "characters": [n for n in names if n in narration],
                          "image_prompt": f"an engraving of {narration[:60].lower()}", "motion": "slow push in",
                          "mood": "calm", "time_of_day": "day"})
        scenes.append({"setting": SETTING, "mood": "calm", "shots": shots})
    return {"scenes": scenes}


def _message(body: dict[str, Any], content: list[dict[str, Any]], stop: str, output_tokens: int) -> dict[str, Any]:
    return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": len(json.dumps(body)) // 4, "output_tokens": output_tokens}}


def install(app: FastAPI, state: FakeState) -> None:
    """Add the Messages route under /anthropic."""

    @app.post("/anthropic/v1/messages")
    async def messages(request: Request) -> Response:
        headers = request.headers
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if KEY not in (headers.get("x-api-key"), bearer):
            return _error(401, "authentication_error", "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        body = await request.json()
        state.bodies.append(("anthropic", request.url.path, body))
        tool = body.get("tool_choice", {}).get("name")
        if not (isinstance(body.get("max_tokens"), int) and body.get("model") and body.get("messages") and tool
                and any(t.get("name") == tool and "input_schema" in t for t in body.get("tools", []))):
            return _error(400, "invalid_request_error", "model, max_tokens, messages and a forced tool are required")
        prompt = body["messages"][0]["content"]
        part = re.search(r"part (\d+) of (\d+)", prompt)
        where = f"{request.url.path} part={part.group(1)}/{part.group(2)}" if part else request.url.path
        fault = state.take_fault("anthropic", where, KINDS)
        if fault is not None and fault.kind == "overloaded":
            return _error(529, "overloaded_error", "Overloaded")
        if fault is not None and fault.kind == "filtered":
            return _error(400, "invalid_request_error", "Output blocked by content filtering policy")
        state.pay("anthropic")
        if fault is not None and fault.kind == "reject":
            return Response(json.dumps(_message(body, [], "refusal", 3)), media_type="application/json")
        answer = screenplay(prompt)
        stop, tokens = "tool_use", len(json.dumps(answer)) // 4 + 10
        if fault is not None and fault.kind == "max_tokens":
            answer, stop, tokens = {"scenes": [{"setting": SETTING, "mood": "calm", "shots": []}]}, "max_tokens", \
                body["max_tokens"]
        elif fault is not None and fault.kind in ("invalid", "invalid_twice"):
            del answer["scenes"][0]["shots"][0]["narration"]
            if fault.kind == "invalid_twice":
                with state.lock:  # the repair request gets an invalid answer too
                    state.faults.setdefault("anthropic", []).insert(0, Fault("invalid", fault.route))
        use = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool, "input": answer}
        message = _message(body, [use], stop, tokens)
        if fault is not None and fault.kind == "no_usage":
            message["usage"] = {}
        return Response(json.dumps(message), media_type="application/json")
