"""The LLM engine end to end, with a scripted model (pydantic-ai FunctionModel) and the web answered from recorded
payloads: stages, verified citations, budget, retries, failures and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic_ai.exceptions import ModelHTTPError

from llm.conftest import EngineMaker
from llm.scripted import ScriptedLLM, WebLog, flow_with
from research_nb.core.events import LogMessage, ResearchEvent, RunFinished, SubQuestionProgress, UsageUpdated
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState

QUESTION = "Why are there two high tides a day?"


def options(**overrides: Any) -> ResearchOptions:
    return ResearchOptions(engine="llm", model="openai:gpt-4o-mini", **overrides)


def assert_citations_hold(state: ResearchState) -> None:
    """Every citation points at a passage this run retrieved, and its quote is that passage's own words."""
    assert state.report is not None
    citations = state.report.citations()
    assert citations
    for citation in citations:
        passage = state.passage(citation.passage_id)
        assert passage is not None, citation
        assert citation.quote in passage.text, citation


async def test_full_research_goes_through_every_stage_and_cites_what_it_retrieved(
    make_engine: EngineMaker, brain: ScriptedLLM, web: WebLog
) -> None:
    flow = flow_with(make_engine())
    events: list[ResearchEvent] = []

    state = await flow.run(QUESTION, options=options(), stream_callback=events.append)

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert brain.calls == ["clarify", "brief", "notes", "notes", "select", "report"]
    assert set(web.hosts()) == {"en.wikipedia.org"}
    assert [sq.question for sq in state.brief.sub_questions] == ["How do tides form?", "What role does the Moon play?"]
    report = state.report
    assert report is not None and report.metadata.engine == "llm" and not report.metadata.partial
    assert_citations_hold(state)
    assert "https://en.wikipedia.org/wiki/Tide" in report.markdown
    assert "Text from Wikipedia, available under CC BY-SA 4.0" in report.markdown
    assert report.metadata.unsupported_claims == 0
    # usage: per stage in the state, live as cumulative events, and in the report
    usage = state.metadata["usage"]
    assert set(usage["stages"]) == {s.value for s in ResearchStage if s.value in usage["stages"]}
    assert sum(s["requests"] for s in usage["stages"].values()) == 6
    updates = [e for e in events if isinstance(e, UsageUpdated)]
    assert [u.requests for u in updates] == list(range(1, 7))
    total = sum(s["input_tokens"] + s["output_tokens"] for s in usage["stages"].values())
    assert updates[-1].input_tokens + updates[-1].output_tokens == total
    assert f"{total:,} tokens" in report.markdown


async def test_invented_sources_and_unsupported_claims_are_left_out_and_counted(
    make_engine: EngineMaker, brain: ScriptedLLM
) -> None:
    tide = "Most coastal areas experience two high tides and two low tides each day"
    brain.extra_claims = [
        {"text": "Tides were first explained in Atlantis.", "passage_id": "wikipedia:Atlantis#0", "quote": "Atlantis"},
        {
            "text": "Most coastal areas experience seven high tides each day.",
            "passage_id": "wikipedia:Tide#0",
            "quote": tide,
        },
        {"text": "The tide is sung by whales.", "passage_id": "wikipedia:Tide#0", "quote": "whales sing the tide"},
    ]
    brain.report_claims = [
        {
            "text": "Read more at https://tide-facts.example.com about tides.",
            "passage_id": "wikipedia:Tide#0",
            "quote": "Tides are the rise and fall of sea levels",
        },
    ]
    flow = flow_with(make_engine())

    state = await flow.run(QUESTION, options=options())

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    report = state.report
    assert report is not None
    for invented in ("Atlantis", "seven high tides", "whales", "tide-facts.example.com"):
        assert invented not in report.markdown
    assert report.metadata.unsupported_claims == 4
    assert "**4 claims left out.**" in report.markdown
    left_out = state.metadata["unsupported_claims"]
    whys = [c["why"] for stage in left_out.values() for c in stage]
    assert any("never retrieved" in w for w in whys)
    assert any("states 7" in w or "seven" in w or "not supported" in w for w in whys)
    assert any("not in wikipedia:Tide#0" in w for w in whys)
    assert any("link" in w for w in whys)
    assert_citations_hold(state)


async def test_budget_stops_new_model_calls_and_the_report_says_so(
    make_engine: EngineMaker, brain: ScriptedLLM
) -> None:
    flow = flow_with(make_engine())

    # clarify and brief cost ~140 tokens; the first notes call crosses 300; with one call at a time the second
    # sub-question's notes are never asked for, nor compression or the report
    state = await flow.run(QUESTION, options=options(budget_tokens=300, max_concurrency=1))

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert brain.calls == ["clarify", "brief", "notes"]
    assert any("token budget (300) was reached" in w for w in state.warnings)
    report = state.report
    assert report is not None and not report.metadata.partial
    assert "**Budget reached.** The token budget (300) was reached after" in report.markdown
    assert "Tides are the rise and fall of sea levels" in report.markdown  # what sq-1 gathered is reported
    assert_citations_hold(state)
    assert state.metadata["usage"]["budget_reached"]


async def test_a_rate_limited_call_is_retried_with_backoff(make_engine: EngineMaker, brain: ScriptedLLM) -> None:
    failures = []

    def rate_limit_once(stage: str, args: dict[str, Any], prompt: str) -> None:
        if stage == "notes" and not failures:
            failures.append(stage)
            raise ModelHTTPError(429, "scripted", body={"error": {"message": "Rate limit reached"}})

    brain.before = rate_limit_once
    flow = flow_with(make_engine())
    events: list[ResearchEvent] = []

    state = await flow.run(QUESTION, options=options(), stream_callback=events.append)

    assert state.current_stage is ResearchStage.COMPLETED
    assert state.warnings == []
    assert failures == ["notes"] and brain.calls.count("notes") == 2  # refused once, then both answered
    retries = [e.message for e in events if isinstance(e, LogMessage) and "retrying" in e.message]
    assert retries and "429" in retries[0] and "attempt 2 of 3" in retries[0]
    done = [e for e in events if isinstance(e, SubQuestionProgress) and e.status == "done"]
    assert len(done) == 2


async def test_a_failing_sub_question_is_a_warning_not_a_failed_run(
    make_engine: EngineMaker, brain: ScriptedLLM
) -> None:
    def moon_notes_fail(stage: str, args: dict[str, Any], prompt: str) -> None:
        if stage == "notes" and "Sub-question sq-2" in prompt:
            raise ModelHTTPError(400, "scripted", body={"error": {"message": "context length exceeded"}})

    brain.before = moon_notes_fail
    flow = flow_with(make_engine())
    events: list[ResearchEvent] = []

    state = await flow.run(QUESTION, options=options(), stream_callback=events.append)

    assert state.current_stage is ResearchStage.COMPLETED
    assert len(state.warnings) == 1 and "sq-2" in state.warnings[0] and "400" in state.warnings[0]
    statuses = {e.sub_question_id: e.status for e in events if isinstance(e, SubQuestionProgress)}
    assert statuses == {"sq-1": "done", "sq-2": "failed"}
    assert state.report is not None and "Tides are the rise and fall" in state.report.markdown


async def test_cancel_during_a_model_call_keeps_what_was_gathered(make_engine: EngineMaker, brain: ScriptedLLM) -> None:
    blocked = asyncio.Event()
    interrupted: list[str] = []

    async def moon_notes_hang(stage: str, args: dict[str, Any], prompt: str) -> None:
        if stage == "notes" and "Sub-question sq-2" in prompt:
            blocked.set()
            try:
                await asyncio.Event().wait()  # a model that never answers
            except asyncio.CancelledError:
                interrupted.append(stage)
                raise

    brain.before = moon_notes_hang
    flow = flow_with(make_engine())
    state = flow.prepare(QUESTION, options=options())
    first_done = asyncio.Event()

    async def watch() -> None:
        async with flow.events.subscribe(state.request_id) as events:
            async for event in events:
                if (
                    isinstance(event, SubQuestionProgress)
                    and event.sub_question_id == "sq-1"
                    and event.status == "done"
                ):
                    first_done.set()

    watcher = asyncio.create_task(watch())
    task = asyncio.create_task(flow.resume_research(state))
    await blocked.wait()
    await first_done.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await watcher

    assert interrupted == ["notes"]
    assert state.current_stage is ResearchStage.CANCELLED
    report = state.report
    assert report is not None and report.metadata.partial
    assert "**Partial report.** The run stopped during the research execution stage" in report.markdown
    assert "Tides are the rise and fall of sea levels" in report.markdown
    assert_citations_hold(state)


async def test_events_end_with_the_final_event_and_usage_is_in_the_saved_state(make_engine: EngineMaker) -> None:
    flow = flow_with(make_engine())
    events: list[ResearchEvent] = []
    state = await flow.run(QUESTION, options=options(), stream_callback=events.append)

    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    again = ResearchState.model_validate_json(state.model_dump_json())
    assert again.metadata["usage"] == state.metadata["usage"]
    assert again.report is not None and again.report.markdown == state.report.markdown
