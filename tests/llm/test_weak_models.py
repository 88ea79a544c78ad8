"""A server of one's own (`base_url`: llama.cpp, Ollama, LM Studio) as weak models behave on it: Chat Completions
with a JSON schema, bounded answers, malformed JSON mended, refusals reported, timeouts counted from sending."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from pydantic_ai.models import override_allow_model_requests

from llm.scripted import FAST_RETRY, ScriptedLLM
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.llm import LLMEngine
from research_nb.engines.llm._usage import UsageRecord
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState

QUESTION = "What is the unemployment rate of Norway?"
NORWAY = [("What is Norway's unemployment rate?", ["Norway unemployment rate"])]
BASE_URL = "http://127.0.0.1:8080/v1"


async def run(handler: Any, **overrides: Any) -> ResearchState:
    engine = LLMEngine(http_transport=lambda: httpx2.MockTransport(handler), retry=FAST_RETRY, environ={}, dotenv={})
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    settings: dict[str, Any] = {
        "engine": "llm",
        "model": "openai:qwen2.5-1.5b",
        "base_url": BASE_URL,
        "local_only": True,
        "clarify": False,
        "max_search_results": 3,
        "max_hops": 0,
    } | overrides
    with override_allow_model_requests(True):
        return await flow.run(QUESTION, options=ResearchOptions(**settings))


async def test_a_base_url_server_gets_chat_completions_with_a_bounded_json_schema() -> None:
    seen: list[httpx2.Request] = []
    state = await run(ScriptedLLM(NORWAY).openai_handler(seen))

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert [r.url.path for r in seen if r.method == "GET"] == ["/v1/models"]  # asked once per run
    posts = [json.loads(r.content) for r in seen if r.method == "POST"]
    assert {r.url.path for r in seen if r.method == "POST"} == {"/v1/chat/completions"}  # never the Responses API
    notes = next(b for b in posts if "follow_up_queries" in json.dumps(b.get("response_format")))
    schema = notes["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["claims"]["maxItems"] == 12  # a weak model's list must end
    assert "tools" not in notes and notes["temperature"] == 0.1 and notes["stop"]
    assert notes.get("max_completion_tokens", notes.get("max_tokens")) == 768
    assert state.findings and all(f.sub_question_id == "sq-1" for f in state.findings)


@pytest.mark.parametrize(
    "dress",
    [
        lambda text: f"Here is the JSON you asked for:\n```json\n{text}\n```",
        lambda text: json.dumps({"name": "final_result", "arguments": json.loads(text)}),
        lambda text: json.dumps({"arguments": text}),
    ],
    ids=["fenced-after-prose", "tool-call-as-text", "arguments-as-string"],
)
async def test_malformed_answers_are_mended_before_validation(dress: Any) -> None:
    seen: list[httpx2.Request] = []
    state = await run(ScriptedLLM(NORWAY).openai_handler(seen, dress))

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert state.findings, state.warnings
    stages = [json.loads(r.content)["response_format"]["json_schema"]["name"] for r in seen if r.method == "POST"]
    assert "research-notes" in stages and len(stages) == len(set(stages))  # each stage asked once: no retry


async def test_a_servers_refusal_is_reported_not_retried_and_a_run_where_all_failed_fails() -> None:
    seen: list[httpx2.Request] = []
    answer = ScriptedLLM([*NORWAY, ("What is Sweden's unemployment rate?", ["Sweden unemployment"])])

    async def refusing(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and "follow_up_queries" in request.content.decode():
            seen.append(request)
            return httpx2.Response(400, json={"error": {"message": "Cannot determine type of 'item'"}})
        return await answer.openai_handler([])(request)

    state = await run(refusing)

    assert state.current_stage is ResearchStage.FAILED
    assert len(seen) == 2  # one notes call per sub-question, none retried
    assert "every sub-question failed (2 of 2)" in (state.error_message or "")
    assert "refused the request (HTTP 400)" in (state.error_message or "")
    assert "Cannot determine type of 'item'" in (state.error_message or "")


async def test_a_request_is_timed_from_when_it_is_sent_not_while_it_waits_its_turn() -> None:
    async def slow(stage: str, args: dict[str, Any], prompt: str) -> None:
        if stage == "notes":
            await asyncio.sleep(0.4)

    brain = ScriptedLLM([*NORWAY, ("What is Sweden's unemployment rate?", ["Sweden unemployment"])], before=slow)
    # one call at a time: the second notes call waits 0.4 s for its turn, then takes 0.4 s, within 0.6 s of sending
    state = await run(brain.openai_handler([]), max_concurrency=1, model_timeout=0.6)

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert not [w for w in state.warnings if "no answer within" in w]

    brain = ScriptedLLM(NORWAY, before=slow)
    state = await run(brain.openai_handler([]), model_timeout=0.1)
    assert state.current_stage is ResearchStage.FAILED
    assert "no answer within 0.1 s of sending the request" in (state.error_message or "")


async def test_a_server_that_does_not_answer_fails_the_run_at_once_with_its_address() -> None:
    def nothing(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    state = await run(nothing)

    assert state.current_stage is ResearchStage.FAILED
    assert f"the model server at {BASE_URL} does not answer (ConnectError)" in (state.error_message or "")


async def test_a_small_model_only_picks_sentences_from_an_engine_made_plan() -> None:
    seen: list[httpx2.Request] = []
    brain = ScriptedLLM([])
    question = "How do the unemployment rates of Norway and Sweden compare?"
    engine = LLMEngine(
        http_transport=lambda: httpx2.MockTransport(brain.openai_handler(seen)), retry=FAST_RETRY, environ={}
    )
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    options = ResearchOptions(
        engine="llm", model="openai:tiny", base_url=BASE_URL, local_only=True, small_model=True, max_search_results=3
    )
    with override_allow_model_requests(True):
        state = await flow.run(question, options=options)

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert brain.calls == ["picks", "picks"]  # no clarify, brief, compress or report call
    assert state.brief is not None and [sq.entity for sq in state.brief.sub_questions] == ["Norway", "Sweden"]
    assert [sq.queries for sq in state.brief.sub_questions] == [
        ["Norway How do the unemployment rates of and compare?"],
        ["Sweden How do the unemployment rates of and compare?"],
    ]
    passages = {p.id: p for p in state.passages}
    assert state.findings
    for finding in state.findings:  # each claim is a sentence of its passage, about the sub-question's country
        passage = passages[finding.passage_ids[0]]
        assert finding.quote and finding.quote in passage.text
        entity = next(sq.entity for sq in state.brief.sub_questions if sq.id == finding.sub_question_id)
        assert passage.title.startswith(f"{entity} — ") and finding.text.startswith(f"{entity} — ")
    picks = next(json.loads(r.content) for r in seen if r.method == "POST")
    assert picks["max_completion_tokens"] == 160 and "sentences" in picks["messages"][-1]["content"]


async def small_model_run(question: str) -> tuple[ResearchState, ScriptedLLM, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []
    brain = ScriptedLLM([])
    engine = LLMEngine(
        http_transport=lambda: httpx2.MockTransport(brain.openai_handler(seen)), retry=FAST_RETRY, environ={}
    )
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    options = ResearchOptions(
        engine="llm", model="openai:tiny", base_url=BASE_URL, local_only=True, small_model=True, clarify=False
    )
    with override_allow_model_requests(True):
        return await flow.run(question, options=options), brain, seen


async def test_a_small_model_answers_a_question_the_records_decide_with_the_offline_analysis() -> None:
    # A superlative over a group: no 135M model can rank a dozen inflation rates. The offline engine's question
    # analysis retrieves every member's figure, its composer answers, the llm verifier checks the answer, and the
    # model only picks supporting sentences from those same passages.
    state, brain, seen = await small_model_run("Which South American country has the highest inflation rate?")

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert brain.calls == ["picks"]
    assert state.brief is not None and state.brief.plan is not None and state.brief.plan.kind == "superlative"
    assert state.report is not None and state.report.metadata.engine == "llm"
    opening = state.report.markdown.split("## ")[1]
    assert "Venezuela has the highest inflation rate (consumer prices) in South America: 200.9%" in opening
    passages = {p.id: p for p in state.passages}
    members = {p.document_id for p in passages.values() if p.title.endswith("Economy")}
    assert len(members) >= 10  # every South American country's figure, not a keyword search's top three
    prompt = json.loads(next(r.content for r in seen if r.method == "POST"))["messages"][-1]["content"]
    assert "Venezuela" in prompt and "Inflation rate (consumer prices): 200.9%" in prompt  # the answer's passage
    answer = next(s for s in state.report.sections if s.title == "Answer")
    assert answer.citations and state.findings
    for cited in answer.citations:  # the answer quotes the passages it cites, and so does each pick
        assert cited.quote in passages[cited.passage_id].text
    for finding in state.findings:
        assert finding.quote and finding.quote in passages[finding.passage_ids[0]].text
    usage = UsageRecord.model_validate(state.metadata["usage"])
    assert usage.model == "openai:tiny" and usage.stages["research_execution"].requests == 1


async def test_a_small_models_comparison_plan_cites_a_passage_for_each_side() -> None:
    state, brain, _ = await small_model_run("Which has a higher unemployment rate, Norway or Sweden?")

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert state.brief is not None and state.brief.plan is not None and state.brief.plan.kind == "comparison"
    assert [sq.entity for sq in state.brief.sub_questions] == ["Norway", "Sweden"] and brain.calls == ["picks"] * 2
    assert state.report is not None
    opening = state.report.markdown.split("## ")[1]
    assert "Sweden" in opening and "8.6%" in opening and "4%" in opening
    cited = next(s.citations for s in state.report.sections if s.title == "Answer")
    titles = {p.id: p.title for p in state.passages}
    assert {titles[c.passage_id].split(" — ")[0] for c in cited} >= {"Norway", "Sweden"}


async def test_a_small_models_ranking_answer_is_verified_piece_by_piece() -> None:
    # Five countries' figures from five passages: more than one claim can cite, so each name and figure is checked
    # against its own passage; every one holds, so the ranking opens the report.
    state, _, _ = await small_model_run("What are the five most populous countries in Africa?")

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert state.report is not None
    answer = next(s for s in state.report.sections if s.title == "Answer")
    assert answer.content.startswith("The countries of Africa with the largest population (total): Nigeria, ")
    passages = {p.id: p for p in state.passages}
    assert len({passages[c.passage_id].document_id for c in answer.citations}) == 5
    for cited in answer.citations:
        assert cited.quote in passages[cited.passage_id].text
