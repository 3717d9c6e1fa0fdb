"""The ``anthropic`` screenwriter, wire-level: the real anthropic SDK against the fake Messages API."""
from __future__ import annotations

import json
import math

import pytest

from stages import calls
from stages.calls import Call, Till
from stages.contracts import Character, ScriptRequest, Shot
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError, TransientError
from stages.script.anthropic import AnthropicScriptWriter
from stages.script.llm_schema import INPUT_SCHEMA, SYSTEM, TOOL, DraftPart, assemble, chunks
from tests.fakes import anthropic as fake
from tests.fakes.server import FakeServer

PARAGRAPHS = [
    "The rain had stopped by the time Tom reached the old mill. Ann opened the door before he could knock. "
    "She was smiling.",
    "The road was flooded. He had walked the long way round by the church.",
    "Ann laughed and took his wet coat. The kitchen was warm and smelled of bread. A cat slept by the fire.",
    "Morning came bright and cold over the village. Tom went out to look at the river.",
]
TEXT = "\n\n".join(PARAGRAPHS)
CAST = (Character(name="Tom", description="a tall young man in a grey coat", aliases=("Thomas",)),
        Character(name="Ann", description="a cheerful woman in a green dress", aliases=("his sister",)))
REQUEST = ScriptRequest(title="The Mill", text=TEXT, characters=CAST, style="ink and wash")
IN_ITEM, OUT_ITEM = "anthropic/claude-sonnet-4-6:input_token", "anthropic/claude-sonnet-4-6:output_token"
PRICES = {IN_ITEM: 3e-6, OUT_ITEM: 15e-6}  # until the default price table lists the default model


@pytest.fixture(scope="module")
def server():
    started = FakeServer({"anthropic": fake.install}).start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def env(server, monkeypatch):
    monkeypatch.setenv("FILM_ANTHROPIC_BASE_URL", server.url("anthropic"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.KEY)
    server.state.reset()


@pytest.fixture
def call():
    with calls.using(Call(prices=PRICES)) as fresh:
        yield fresh


def writer(**options) -> AnthropicScriptWriter:
    return AnthropicScriptWriter(AnthropicScriptWriter.Options(**options))


def sent(server) -> list[dict]:
    return [body for provider, _, body in server.state.bodies if provider == "anthropic"]


def test_writes_the_screenplay_with_a_forced_tool_call(server, call):
    screenplay = writer().write(REQUEST)
    shots = screenplay.shots()
    assert [s.shot for s in shots] == list(range(1, len(shots) + 1))
    assert " ".join(s.narration for s in shots) == " ".join(PARAGRAPHS)  # verbatim, in order, nothing skipped
    assert screenplay.title == "The Mill" and len(screenplay.scenes) == len(PARAGRAPHS)
    assert shots[0].characters == ("Tom", "Ann") and shots[0].image_prompt
    [body] = sent(server)
    assert body["model"] == "claude-sonnet-4-6" and body["max_tokens"] == 8000 and body["temperature"] == 0.0
    assert body["tool_choice"] == {"type": "tool", "name": "write_screenplay"}
    assert body["thinking"] == {"type": "disabled"}  # a forced tool call takes no thinking (on by default on Sonnet 5)
    assert body["tools"][0]["input_schema"] == INPUT_SCHEMA and body["system"] == SYSTEM
    prompt = body["messages"][0]["content"]
    assert "ink and wash" in prompt and "a cheerful woman in a green dress" in prompt and PARAGRAPHS[2] in prompt
    usage_in = len(json.dumps(body)) // 4  # what the fake reports
    assert [(c.item, c.units) for c in call.charges] == [(IN_ITEM, usage_in), (OUT_ITEM, call.charges[1].units)]
    assert call.charges[0].usd == pytest.approx(usage_in * 3e-6)
    assert call.till.spent_usd == pytest.approx(sum(c.usd for c in call.charges))  # the reservation was released


def test_the_schema_sent_is_generated_from_the_shot_contract(server, call):
    writer().write(REQUEST)
    [body] = sent(server)
    shot = body["tools"][0]["input_schema"]["properties"]["scenes"]["items"]["properties"]["shots"]["items"]
    written = {name: info for name, info in Shot.model_fields.items() if name != "shot"}  # we number the shots
    assert list(shot["properties"]) == shot["required"] == list(written)
    assert all(shot["properties"][name].get("description") == info.description for name, info in written.items())


def test_a_long_text_goes_in_parts_numbered_across_the_film(server, call):
    screenplay = writer(chunk_chars=175).write(REQUEST)
    bodies = sent(server)
    parts = chunks(TEXT, 175)
    assert len(bodies) == len(parts) == 3 and all(len(p) <= 175 for p in parts)
    shots = screenplay.shots()
    assert [s.shot for s in shots] == list(range(1, len(shots) + 1))
    assert " ".join(s.narration for s in shots) == " ".join(PARAGRAPHS)
    second = bodies[1]["messages"][0]["content"]
    assert "part 2 of 3" in second and "Where the previous part ended" in second
    assert 'its last narration was: "She was smiling."' in second  # where part 1 ended
    # every scene is set in the fake's one hall, so each part's first scene continues the one before
    assert len(screenplay.scenes) == len(PARAGRAPHS) - (len(parts) - 1)
    assert len(call.charges) == 2 * len(parts)


def test_chunks_break_at_paragraphs_and_a_long_paragraph_at_sentences():
    assert chunks("a b.\n\n\n c d.\n\ne f.", 10) == ["a b.\n\nc d.", "e f."]
    long = "One two three. Four five six. Seven eight nine."
    assert chunks(f"Start.\n\n{long}", 32) == ["Start.\n\nOne two three.", "Four five six. Seven eight nine."]


def test_names_are_set_to_the_project_spelling():
    draft = DraftPart.model_validate({"scenes": [{"setting": "hall", "shots": [
        {"narration": "Hi.", "speaker": "thomas", "characters": ["His sister", "Tom", "a stranger"],
         "image_prompt": "two people"}]}]})
    [shot] = assemble(REQUEST, [draft]).shots()
    assert shot.speaker == "Tom" and shot.characters == ("Ann", "Tom", "a stranger")


def test_an_invalid_answer_gets_one_repair_round(server, call):
    server.fault("anthropic", "invalid")
    screenplay = writer().write(REQUEST)
    assert screenplay.shots()[0].narration.startswith("The rain had stopped")
    first, repair = sent(server)
    assistant, retry = repair["messages"][1:]
    use = assistant["content"][0]
    assert assistant["role"] == "assistant" and use["type"] == "tool_use"
    result = retry["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"] and result["is_error"] is True
    assert "scenes.0.shots.0.narration: Field required" in result["content"]
    assert len(call.charges) == 4  # both answers were billed


def test_an_answer_invalid_twice_is_an_error_naming_the_fields(server, call):
    server.fault("anthropic", "invalid_twice")
    with pytest.raises(StageError, match=r"invalid twice.*scenes\.0\.shots\.0\.narration"):
        writer().write(REQUEST)
    assert len(sent(server)) == 2


def test_a_refusal_is_content_rejected(server, call):
    server.fault("anthropic", "reject")
    with pytest.raises(ContentRejected, match="refused to write the screenplay of part 1/1.*The rain had stopped"):
        writer().write(REQUEST)
    assert [c.item for c in call.charges] == [IN_ITEM, OUT_ITEM]  # a refusal is billed too


def test_output_blocked_by_the_content_filter_is_content_rejected_with_a_script_hint(server, call):
    server.fault("anthropic", "filtered")
    with pytest.raises(ContentRejected, match="screenplay of part 1/1.*content filtering") as caught:
        writer().write(REQUEST)
    assert "screenplay.yaml by hand" in caught.value.hint and "shot" not in caught.value.hint


def test_an_answer_cut_off_at_max_tokens_says_what_to_change(server, call):
    server.fault("anthropic", "max_tokens")
    with pytest.raises(StageError, match="cut off at max_tokens=8000") as caught:
        writer().write(REQUEST)
    assert not isinstance(caught.value, TransientError)
    assert "max_tokens" in caught.value.hint and "chunk_chars" in caught.value.hint


def test_missing_key_names_the_variable_and_sends_nothing(server, call, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    seen = len(server.state.requests)
    with pytest.raises(AuthError, match="ANTHROPIC_API_KEY"):
        writer().write(REQUEST)
    assert len(server.state.requests) == seen


def test_a_wrong_key_is_an_auth_error(server, call, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
    with pytest.raises(AuthError, match="401") as caught:
        writer().write(REQUEST)
    assert "sk-ant-wrong" not in str(caught.value) + caught.value.hint


@pytest.mark.parametrize("kind", ["429", "500", "overloaded"])
def test_rate_limits_and_server_faults_are_transient(server, call, kind):
    server.fault("anthropic", kind, retry_after=0.2)
    with pytest.raises(TransientError) as caught:
        writer().write(REQUEST)
    assert caught.value.retry_after == (0.2 if kind == "429" else None)
    assert call.charges == [] and call.till.spent_usd == 0  # nothing billed, the reservation was refunded


def test_a_slow_answer_past_the_timeout_is_transient(server, call):
    server.fault("anthropic", "slow", delay=3.0)
    with pytest.raises(TransientError):
        writer(timeout_s=0.5).write(REQUEST)


def test_a_malformed_answer_is_a_stage_error(server, call):
    server.fault("anthropic", "malformed")
    with pytest.raises(StageError, match="screenplay of part 1/1"):
        writer().write(REQUEST)


def test_a_hollow_answer_is_transient_names_the_part_and_is_not_billed(server, call):
    server.fault("anthropic", "hollow")
    with pytest.raises(TransientError, match="unexpected body") as caught:
        writer().write(REQUEST)
    assert "screenplay of part 1/1" in str(caught.value)
    assert call.charges == [] and call.till.spent_usd == 0


def test_an_answer_with_an_empty_usage_is_transient(server, call):
    server.fault("anthropic", "no_usage")
    with pytest.raises(TransientError, match="unexpected body"):
        writer().write(REQUEST)


def test_a_retry_pays_for_no_part_twice(server, tmp_path):
    server.fault("anthropic", "overloaded", route="part=2/")
    paid = server.state.paid["anthropic"]
    with calls.using(Call(journal=tmp_path / "j.json", prices=PRICES)), pytest.raises(TransientError):
        writer(chunk_chars=175).write(REQUEST)
    assert server.state.paid["anthropic"] == paid + 1  # part 1 paid, part 2 overloaded
    with calls.using(Call(journal=tmp_path / "j.json", prices=PRICES)) as again:
        screenplay = writer(chunk_chars=175).write(REQUEST)
    assert server.state.paid["anthropic"] == paid + 3  # parts 2 and 3; part 1 came from the journal
    parts = [b["messages"][0]["content"] for b in sent(server)]
    assert sum("part 1 of 3" in p for p in parts) == 1
    assert " ".join(s.narration for s in screenplay.shots()) == " ".join(PARAGRAPHS)
    assert len(again.charges) == 4


def test_a_budget_too_small_stops_before_any_request(server):
    seen = len(server.state.requests)
    with calls.using(Call(till=Till(budget_usd=0.0), prices=PRICES)), pytest.raises(BudgetExceeded):
        writer().write(REQUEST)
    assert len(server.state.requests) == seen


def test_an_unpriced_model_is_an_input_error_before_any_request(server, call):
    seen = len(server.state.requests)
    with pytest.raises(InputError, match="no price for 'anthropic/claude-unknown:input_token'"):
        writer(model="claude-unknown").write(REQUEST)
    assert len(server.state.requests) == seen


def test_temperature_none_is_left_out(server, call):
    writer(temperature=None, model="claude-haiku-4-5").write(REQUEST)
    [body] = sent(server)
    assert "temperature" not in body and body["model"] == "claude-haiku-4-5"


def test_estimate_counts_prompt_and_screenplay_tokens(server, call):
    backend = writer(chunk_chars=175)
    (item_in, tokens_in), (item_out, tokens_out) = backend.estimate(REQUEST)
    assert (item_in, item_out) == ("claude-sonnet-4-6:input_token", "claude-sonnet-4-6:output_token")
    parts = chunks(TEXT, 175)
    assert tokens_out == sum(math.ceil(1.3 * math.ceil(len(p) / 4)) for p in parts)
    overhead = (len(SYSTEM) + len(json.dumps(TOOL))) / 4
    assert tokens_in > len(parts) * overhead + len(TEXT) / 4
    backend.write(REQUEST)
    billed = sum(c.units for c in call.charges if c.item == IN_ITEM)
    assert tokens_in == pytest.approx(billed, rel=0.2)  # close to what the (fake) provider counted
