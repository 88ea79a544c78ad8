"""Whole runs through the workflow: completion, engine errors, bad input, stream callbacks, secrets."""

import asyncio
import logging
from typing import Any

import pytest

from engines_for_tests import MemoryEngine
from research_nb.core.errors import (
    InvalidQueryError,
    InvalidStateError,
    UnknownEngineError,
    UnknownRequestError,
    UserInputError,
)
from research_nb.core.events import (
    ErrorRaised,
    ResearchEvent,
    RunFinished,
    RunStarted,
    SourceFound,
    StageFinished,
    StageStarted,
)
from research_nb.core.protocols import Engine
from research_nb.core.task_manager import BackgroundTaskManager
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.api_models import APIKeys
from research_nb.models.research import PIPELINE, ResearchOptions, ResearchStage, ResearchState

QUESTION = "How do the economies of Norway and Sweden differ?"


def test_the_test_engine_satisfies_the_engine_protocol(engine: MemoryEngine) -> None:
    assert isinstance(engine, Engine)


async def test_a_run_goes_through_every_stage_to_a_cited_report(
    flow: ResearchWorkflow, options: ResearchOptions
) -> None:
    state = await flow.run(QUESTION, request_id="full", options=options)

    assert state is flow.get_state("full")
    assert state.current_stage is ResearchStage.COMPLETED
    assert state.completed_stages == list(PIPELINE)
    assert state.brief is not None and [sq.entity for sq in state.brief.sub_questions] == ["Norway", "Sweden"]
    passage_ids = {p.id for p in state.passages}
    assert state.findings and all(set(f.passage_ids) <= passage_ids for f in state.findings)
    assert state.report is not None and not state.report.metadata.partial
    assert {c.passage_id for c in state.report.citations()} <= passage_ids
    assert "Norway's economy rests on petroleum and natural gas exports. [1]" in state.report.markdown
    duration = state.duration_seconds()
    assert duration is not None and duration >= 0

    history = flow.events.history("full")
    assert isinstance(history[0], RunStarted) and history[0].engine == "memory" and not history[0].resumed
    assert [e.stage for e in history if isinstance(e, StageStarted)] == list(PIPELINE)
    finished = [e for e in history if isinstance(e, StageFinished)]
    assert [e.stage for e in finished] == list(PIPELINE) and all(e.success for e in finished)
    assert {e.source_id for e in history if isinstance(e, SourceFound)} == {s.id for s in state.sources}
    final = history[-1]
    assert isinstance(final, RunFinished)
    assert (final.status, final.stage, final.error, final.has_report) == (
        "completed",
        ResearchStage.COMPLETED,
        None,
        True,
    )


@pytest.mark.parametrize("stage", PIPELINE, ids=lambda stage: stage.value)
async def test_an_engine_error_fails_the_run_with_a_message_naming_the_stage(
    stage: ResearchStage, flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    tasks_before = asyncio.all_tasks()
    engine.fail_in = stage

    state = await flow.run(QUESTION, request_id="broken", options=options)  # returns: a run failing is not a raise

    stage_words = stage.value.replace("_", " ")
    expected = f"the {stage_words} stage failed: OSError: the corpus file for {stage.value} is unreadable"
    assert (state.current_stage, state.error_message) == (ResearchStage.FAILED, expected)
    history = flow.events.history("broken")
    errors = [e for e in history if isinstance(e, ErrorRaised)]
    assert [(e.stage, e.error_type, e.message) for e in errors] == [(stage, "OSError", expected)]
    final = history[-1]
    assert isinstance(final, RunFinished) and (final.status, final.error) == ("failed", expected)
    # What the run gathered before failing stays available.
    gathered = stage in (ResearchStage.RESEARCH_EXECUTION, ResearchStage.COMPRESSION, ResearchStage.REPORT_GENERATION)
    assert bool(state.passages) == gathered
    assert (state.report is not None and state.report.metadata.partial) == gathered
    assert asyncio.all_tasks() == tasks_before


async def test_a_failing_partial_report_does_not_hide_why_the_run_stopped(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_partial_report(state: ResearchState) -> None:
        raise ValueError("cannot summarise")

    monkeypatch.setattr(engine, "partial_report", broken_partial_report)
    engine.fail_in = ResearchStage.COMPRESSION

    state = await flow.run(QUESTION, options=options)

    assert state.current_stage is ResearchStage.FAILED
    assert state.error_message is not None and "compression stage failed: OSError" in state.error_message
    assert state.report is None


async def test_an_engine_error_never_shows_the_api_keys(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-abcdef0123456789"
    engine.fail_in = ResearchStage.RESEARCH_EXECUTION
    engine.failure = PermissionError(f"401 Unauthorized: invalid key {secret}")

    with caplog.at_level(logging.DEBUG):
        state = await flow.run(QUESTION, api_keys=APIKeys(openai=secret), request_id="keys", options=options)

    assert state.error_message is not None and "invalid key ***" in state.error_message
    shown = [state.model_dump_json(), *(e.model_dump_json() for e in flow.events.history("keys")), caplog.text]
    assert not [text for text in shown if secret in text]


# -- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "the research question is empty"),
        ("   \n\t ", "the research question is empty"),
        ("x" * 5001, "has 5001 characters; the limit is 5000"),
        (None, "must be text, not NoneType"),
    ],
    ids=["empty", "whitespace", "5001-chars", "not-text"],
)
async def test_a_bad_question_raises_before_anything_starts(
    query: Any, message: str, flow: ResearchWorkflow, options: ResearchOptions
) -> None:
    tasks_before = asyncio.all_tasks()

    with pytest.raises(InvalidQueryError, match=message):
        await flow.run(query, request_id="bad", options=options)

    assert flow.list_states() == []
    assert flow.events.history("bad") == []
    assert asyncio.all_tasks() == tasks_before


async def test_a_question_of_5000_characters_is_accepted(flow: ResearchWorkflow, options: ResearchOptions) -> None:
    state = flow.prepare("  " + "y" * 5000 + "  ", options=options)
    assert len(state.user_query) == 5000 and state.current_stage is ResearchStage.PENDING


async def test_an_unknown_engine_is_named_with_the_ones_available(flow: ResearchWorkflow) -> None:
    with pytest.raises(UnknownEngineError, match=r"unknown engine 'nope'; available: .*memory"):
        await flow.run(QUESTION, options=ResearchOptions(engine="nope"))
    assert flow.list_states() == []


async def test_an_unknown_request_id_is_a_clear_error(flow: ResearchWorkflow) -> None:
    with pytest.raises(UnknownRequestError) as raised:
        flow.require_state("nope")
    assert str(raised.value) == "no research run with id 'nope'"
    assert isinstance(raised.value, UserInputError) and isinstance(raised.value, KeyError)
    with pytest.raises(UnknownRequestError):
        flow.answer_clarification("nope", None)
    assert flow.get_state("nope") is None


async def test_a_completed_run_cannot_be_resumed(flow: ResearchWorkflow, options: ResearchOptions) -> None:
    state = await flow.run(QUESTION, options=options)
    report = state.report

    with pytest.raises(InvalidStateError, match="already completed; start a new one"):
        await flow.resume_research(state)
    with pytest.raises(InvalidStateError, match="is not waiting for clarification"):
        flow.answer_clarification(state.request_id, None)

    assert state.current_stage is ResearchStage.COMPLETED and state.report is report


async def test_bad_input_through_the_task_manager_fails_the_task_and_leaves_nothing_running(
    flow: ResearchWorkflow, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    await manager.submit_research("empty", flow.run("  ", options=options))
    record = await manager.wait("empty")

    assert record is not None and record.status == "failed"
    assert record.error is not None and record.error.startswith("InvalidQueryError: the research question is empty")
    assert await manager.list_active_tasks() == {}


# -- stream callbacks -----------------------------------------------------------------------------------


async def test_a_sync_stream_callback_gets_every_event_in_order(
    flow: ResearchWorkflow, options: ResearchOptions
) -> None:
    got: list[ResearchEvent] = []

    await flow.run(QUESTION, request_id="cb", options=options, stream_callback=got.append)

    assert got == flow.events.history("cb")
    assert [e.seq for e in got] == list(range(1, len(got) + 1))
    assert isinstance(got[-1], RunFinished)
    assert flow.events.subscriber_count("cb") == 0


async def test_an_async_stream_callback_gets_every_event_in_order(
    flow: ResearchWorkflow, options: ResearchOptions
) -> None:
    tasks_before = asyncio.all_tasks()
    got: list[ResearchEvent] = []

    async def callback(event: ResearchEvent) -> None:
        await asyncio.sleep(0)  # a callback that awaits (a widget update)
        got.append(event)

    await flow.run(QUESTION, request_id="acb", options=options, stream_callback=callback)

    assert got == flow.events.history("acb") and isinstance(got[-1], RunFinished)
    assert asyncio.all_tasks() == tasks_before


async def test_a_raising_stream_callback_does_not_break_the_run(
    flow: ResearchWorkflow, options: ResearchOptions, caplog: pytest.LogCaptureFixture
) -> None:
    tasks_before = asyncio.all_tasks()
    got: list[ResearchEvent] = []

    def callback(event: ResearchEvent) -> None:
        got.append(event)
        if len(got) == 3:
            raise RuntimeError("the widget was closed")

    state = await flow.run(QUESTION, request_id="raise", options=options, stream_callback=callback)

    assert state.current_stage is ResearchStage.COMPLETED
    assert len(got) == 3  # not called again after it raised
    assert "stream callback failed" in caplog.text
    assert flow.events.subscriber_count("raise") == 0
    assert asyncio.all_tasks() == tasks_before
