"""The ``anthropic`` screenwriter: Claude writes the screenplay through a forced tool call whose input schema is
ours (stages.script.llm_schema), one part of the text at a time.

Money: a request is billed by the tokens it used, known only from its answer. Before each request the till
reserves its estimated price (prompt characters / 4 input tokens, 1.3 × the text's tokens output), so the
budget is checked and concurrent jobs see the money as spent while it is in flight; once the answer is back the
reservation is released and the real usage settled as one input-token and one output-token charge. Each part
written is kept in the artifact's journal, so a retry after a later part failed pays for no part twice.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from pydantic import Field

from stages import calls
from stages.cloud.base import CloudBackend, CloudOptions
from stages.cloud.http import unexpected_answer
from stages.contracts import Screenplay, ScriptRequest
from stages.errors import ContentRejected, InputError, StageError
from stages.script.llm_schema import (
    SYSTEM,
    TOOL,
    TOOL_NAME,
    DraftPart,
    assemble,
    chunks,
    summary,
    user_message,
    validate,
)
from stages.text import shorten

CHARS_PER_TOKEN = 4
OUTPUT_PER_INPUT = 1.3  # screenplay tokens written per token of source text (narration + prompts + fields)
SUMMARY_CHARS = 400  # allowance for the previous part's summary in an estimate
REFUSED = ("the model declined this chapter text on content grounds: use another script backend or model, or write "
           "screenplay.yaml by hand")


class AnthropicOptions(CloudOptions):
    """Which Claude model writes, how much it may write per part, and how long a part may be."""

    model: str = Field("claude-sonnet-4-6", min_length=1, description="Claude model id (priced in the price table)")
    max_tokens: int = Field(8000, ge=256, description="most tokens the model may write for one part")
    chunk_chars: int = Field(12000, ge=100, description="longest part of the text sent in one request")
    temperature: float | None = Field(0.0, ge=0.0, le=1.0,
                                      description="sampling temperature; null leaves it out (Opus 4.7+ and Sonnet 5 "
                                                  "refuse a temperature other than their default)")
    timeout_s: float = Field(600.0, gt=0, description="one request; writing a long part takes minutes")


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _echo(content: list[Any]) -> list[dict[str, Any]]:
    """The assistant's answer as message params, to send back with the repair request."""
    blocks: list[dict[str, Any]] = []
    for block in content:
        if block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif block.type == "text" and block.text.strip():
            blocks.append({"type": "text", "text": block.text})
    return blocks or [{"type": "text", "text": "(no answer)"}]


def _repair(use: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The user turn that sends the validation problems back and asks for the screenplay again."""
    listed = "The screenplay is invalid:\n" + "\n".join(f"- {p}" for p in problems)
    ask = {"type": "text", "text": f"Call {TOOL_NAME} again with the whole corrected screenplay of this part."}
    if use is None:
        return [{"type": "text", "text": listed}, ask]
    return [{"type": "tool_result", "tool_use_id": use.id, "is_error": True, "content": listed}, ask]


class AnthropicScriptWriter(CloudBackend):
    """Screenwriter on Anthropic's Messages API with a forced screenplay tool, one repair round per part."""

    name = "anthropic"
    version = "1"
    Options = AnthropicOptions
    options: AnthropicOptions
    packages = ("anthropic",)
    env_keys = ("ANTHROPIC_API_KEY",)
    provider = "anthropic"
    concurrency = 2
    default_url = "https://api.anthropic.com"
    refusal_hint = REFUSED

    def write(self, request: ScriptRequest) -> Screenplay:
        """Split the text into scenes and shots, part by part, numbering shots 1..N across the film."""
        if not request.text.strip():
            hint = "give the script stage some story text: check source.chapter or the start/end markers"
            raise InputError("the source text is empty", hint=hint)
        parts = chunks(request.text, self.options.chunk_chars)
        call, client = calls.current(), None
        drafts: list[DraftPart] = []
        for index, text in enumerate(parts, start=1):
            what = f"screenplay of part {index}/{len(parts)}"
            note = f"anthropic part {index}/{len(parts)} {hashlib.sha256(text.encode()).hexdigest()[:16]}"
            kept = call.recall(note)  # written by an earlier attempt: already paid for
            draft = validate(kept)[0] if kept is not None else None
            if draft is None:
                client = client or self._client()
                prompt = user_message(request, text, index, len(parts), summary(drafts[-1]) if drafts else "")
                draft = self._write_part(client, prompt, text, what)
                call.remember(note, draft.model_dump(mode="json"))
            drafts.append(draft)
        return assemble(request, drafts)

    def estimate(self, request: ScriptRequest) -> list[tuple[str, float]]:
        """Input tokens (prompt characters / 4 per part) and output tokens (1.3 × the text's tokens)."""
        parts = chunks(request.text, self.options.chunk_chars)
        fixed = len(SYSTEM) + len(json.dumps(TOOL))
        tokens_in = sum(_tokens(fixed + len(user_message(request, text, i, len(parts), "")) + SUMMARY_CHARS * (i > 1))
                        for i, text in enumerate(parts, start=1))
        tokens_out = sum(self._output_estimate(text) for text in parts)
        model = self.options.model
        return [(f"{model}:input_token", tokens_in), (f"{model}:output_token", tokens_out)]

    def _output_estimate(self, text: str) -> int:
        return min(self.options.max_tokens, math.ceil(OUTPUT_PER_INPUT * _tokens(len(text))))

    def _client(self) -> Any:
        import anthropic

        return anthropic.Anthropic(api_key=self.key(), base_url=self.endpoint(), max_retries=0,
                                   timeout=self.options.timeout_s)

    def _write_part(self, client: Any, prompt: str, text: str, what: str) -> DraftPart:
        """One part's screenplay: ask, validate, and once more with the problems if the answer is invalid."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        for attempt in (1, 2):
            response = self._ask(client, messages, text, what)
            self._check_stop(response, text, what)
            use = next((b for b in response.content if b.type == "tool_use" and b.name == TOOL_NAME), None)
            draft, problems = validate(use.input) if use else (None, [f"the answer did not call {TOOL_NAME}"])
            if draft is not None:
                return draft
            if attempt == 1:
                messages += [{"role": "assistant", "content": _echo(response.content)},
                             {"role": "user", "content": _repair(use, problems)}]
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise StageError(f"anthropic: the {what} was invalid twice (after one repair round): {shown}",
                         hint="rerun, try another model (option 'model'), or lower chunk_chars")

    def _ask(self, client: Any, messages: list[dict[str, Any]], text: str, what: str) -> Any:
        """One Messages request: its estimated price reserved while in flight, then its real usage settled."""
        call, model = calls.current(), self.options.model
        item_in, item_out = f"{self.provider}/{model}:input_token", f"{self.provider}/{model}:output_token"
        tokens_in = _tokens(len(SYSTEM) + len(json.dumps(TOOL)) + len(json.dumps(messages)))
        usd = call.price(item_in) * tokens_in + call.price(item_out) * self._output_estimate(text)
        extra = {"temperature": self.options.temperature} if self.options.temperature is not None else None
        call.till.reserve(usd, f"the {what}")
        try:
            with self.talking(what):
                response = client.messages.create(
                    model=model, max_tokens=self.options.max_tokens, system=SYSTEM, tools=[TOOL],
                    tool_choice={"type": "tool", "name": TOOL_NAME}, thinking={"type": "disabled"},
                    messages=messages, extra_body=extra)
                used_in, used_out = (getattr(response.usage, name, None) for name in ("input_tokens", "output_tokens"))
                if not isinstance(used_in, int) or not isinstance(used_out, int) or response.content is None:
                    raise unexpected_answer(self.provider, f"request for the {what}", response.to_dict())
        except BaseException:
            call.till.refund(usd)  # not billed
            raise
        call.settle(item_in, used_in)
        call.settle(item_out, used_out)
        call.till.refund(usd)  # the reservation, now that the real usage is counted
        return response

    def _check_stop(self, response: Any, text: str, what: str) -> None:
        """A refusal is ContentRejected; an answer cut off at max_tokens is a StageError saying what to change."""
        if response.stop_reason == "refusal":
            details = getattr(response, "stop_details", None)
            why = getattr(details, "explanation", None) or getattr(details, "category", None)
            raise ContentRejected(
                f"anthropic: the model refused to write the {what}" + (f" ({why})" if why else "")
                + f"; the part begins \"{shorten(text)}\"",
                hint=REFUSED)
        if response.stop_reason == "model_context_window_exceeded":
            raise StageError(f"anthropic: the {what} was cut off at the end of the model's context window",
                             hint="lower the script backend option chunk_chars so each part is shorter")
        if response.stop_reason == "max_tokens":
            raise StageError(
                f"anthropic: the {what} was cut off at max_tokens={self.options.max_tokens} before it was complete",
                hint="raise the script backend option max_tokens, or lower chunk_chars so each part is shorter")
