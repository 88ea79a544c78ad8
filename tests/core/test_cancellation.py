"""Cancellation: in every stage, before the first step, by shutdown, and resuming afterwards.

Runs are held inside a stage by the test engine's gates, so every cancel lands where the test says, with no sleep.
"""

import asyncio

import pytest

from engines_for_tests import MemoryEngine
from research_nb.core.events import RunFinished, RunStarted, StageFinished, StageStarted
from research_nb.core.task_manager import BackgroundTaskManager
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import PIPELINE, ResearchOptions, ResearchStage

QUESTION = "How do the economies of Norway and Sweden differ?"
GATHERING_STAGES = (ResearchStage.RESEARCH_EXECUTION, ResearchStage.COMPRESSION, ResearchStage.REPORT_GENERATION)


@pytest.mark.parametrize("stage", PIPELINE, ids=lambda stage: stage.value)
async def test_cancel_in_each_stage(
    stage: ResearchStage,
    flow: ResearchWorkflow,
    engine: MemoryEngine,
    options: ResearchOptions,
    manager: BackgroundTaskManager,
) -> None:
    tasks_before = asyncio.all_tasks()
    gate = engine.hold(stage)
    events = flow.events.subscribe("run-1")
    await manager.submit_research("run-1", flow.run(QUESTION, request_id="run-1", options=options))
    await gate.reached()
    assert flow.require_state("run-1").current_stage is stage

    assert await manager.cancel_task("run-1") is True
    record = await manager.wait("run-1")

    assert record is not None and record.status == "cancelled"
    state = flow.require_state("run-1")
    assert state.current_stage is ResearchStage.CANCELLED
    assert state.cancel_reason == "Cancelled by user"
    assert state.completed_at is not None
    assert state.completed_stages == list(PIPELINE[: PIPELINE.index(stage)])

    received = [event async for event in events]
    final = received[-1]
    assert isinstance(final, RunFinished)
    assert (final.status, final.stage, final.error) == ("cancelled", ResearchStage.CANCELLED, "Cancelled by user")
    unfinished = [(e.stage, e.summary) for e in received if isinstance(e, StageFinished) and not e.success]
    assert unfinished == [(stage, "Cancelled by user")]

    if stage in GATHERING_STAGES:  # something was gathered: it stays, as a partial report citing it
        assert state.passages and state.report is not None and final.has_report
        assert state.report.metadata.partial and state.report.references
        assert {r.passage_id for r in state.report.references} <= {p.id for p in state.passages}
    else:
        assert not state.passages and state.report is None and not final.has_report

    assert flow.events.subscriber_count("run-1") == 0
    assert asyncio.all_tasks() == tasks_before


async def test_cancelling_the_awaited_run_ends_it_and_propagates(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    """Without the task manager: whoever awaits `run` sees the CancelledError, after the state has ended."""
    gate = engine.hold(ResearchStage.COMPRESSION)
    task = asyncio.create_task(flow.run(QUESTION, request_id="plain", options=options))
    await gate.reached()

    task.cancel("Interrupted the cell")
    with pytest.raises(asyncio.CancelledError):
        await task

    state = flow.require_state("plain")
    assert (state.current_stage, state.cancel_reason) == (ResearchStage.CANCELLED, "Interrupted the cell")
    final = flow.events.history("plain")[-1]
    assert isinstance(final, RunFinished) and final.error == "Interrupted the cell"


async def test_cancel_right_after_submission_still_ends_the_run(
    flow: ResearchWorkflow, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    """A front prepares the state, starts the task and may cancel before the task ever ran (a double click)."""
    state = flow.prepare(QUESTION, options=options, request_id="early")
    manager.start("early", flow.resume_research(state))
    assert manager.cancel_nowait("early") is True

    record = await manager.wait("early")

    assert record is not None and record.status == "cancelled"
    assert state.current_stage is ResearchStage.CANCELLED
    final = flow.events.history("early")[-1]
    assert isinstance(final, RunFinished) and final.status == "cancelled"


async def test_shutdown_with_ten_running_research_tasks(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    tasks_before = asyncio.all_tasks()
    gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)  # never opened: these runs would wait forever
    ids = [f"run-{i}" for i in range(10)]
    for rid in ids:
        await manager.submit_research(rid, flow.run(QUESTION, request_id=rid, options=options))
    await gate.reached(10)
    assert sorted(await manager.list_active_tasks()) == sorted(ids)

    report = await manager.shutdown(timeout=5)

    assert (report.cancelled, report.still_running) == (10, 0)
    assert await manager.list_active_tasks() == {}
    assert asyncio.all_tasks() == tasks_before
    for rid in ids:
        state = flow.require_state(rid)
        assert (state.current_stage, state.cancel_reason) == (ResearchStage.CANCELLED, "Cancelled by shutdown")
        assert state.report is not None and state.report.metadata.partial
        final = flow.events.history(rid)[-1]
        assert isinstance(final, RunFinished) and final.status == "cancelled"


async def test_shutdown_right_after_submission_ends_every_run(
    flow: ResearchWorkflow, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    states = [flow.prepare(QUESTION, options=options, request_id=f"fresh-{i}") for i in range(10)]
    for state in states:
        manager.start(state.request_id, flow.resume_research(state))

    report = await manager.shutdown(timeout=5)

    assert (report.cancelled, report.still_running) == (10, 0)
    assert all(state.current_stage is ResearchStage.CANCELLED for state in states)
    assert all(flow.events.is_finished(state.request_id) for state in states)


async def test_resume_after_cancel_continues_from_the_next_stage_and_reuses_the_brief(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
    await manager.submit_research("again", flow.run(QUESTION, request_id="again", options=options))
    await gate.reached()
    await manager.cancel_task("again")
    await manager.wait("again")
    state = flow.require_state("again")
    assert state.current_stage is ResearchStage.CANCELLED
    brief = state.brief
    assert brief is not None and len(brief.sub_questions) == 2
    assert state.completed_stages == [ResearchStage.CLARIFICATION, ResearchStage.BRIEF_GENERATION]

    gate.open()
    resumed = await flow.resume_research(state)

    assert resumed is state and state.current_stage is ResearchStage.COMPLETED
    assert state.brief is brief  # reused, not regenerated
    assert engine.calls[ResearchStage.BRIEF_GENERATION] == engine.calls[ResearchStage.CLARIFICATION] == 1
    assert (state.cancel_reason, state.error_message) == (None, None)
    assert state.report is not None and not state.report.metadata.partial
    assert {p.document_id for p in state.passages} >= {"norway-economy", "sweden-economy"}
    history = flow.events.history("again")
    restart = next(i for i, e in enumerate(history) if isinstance(e, RunStarted) and e.resumed)
    stages = [e.stage for e in history[restart:] if isinstance(e, StageStarted)]
    assert stages == [ResearchStage.RESEARCH_EXECUTION, ResearchStage.COMPRESSION, ResearchStage.REPORT_GENERATION]
    final = history[-1]
    assert isinstance(final, RunFinished) and final.status == "completed"


async def test_a_resumed_run_cancelled_again_reports_everything_it_gathered(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    """The partial report of the first stop must not linger: not while the run goes on, not after a second stop."""
    research_gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
    await manager.submit_research("twice", flow.run(QUESTION, request_id="twice", options=options))
    await research_gate.reached()
    await manager.cancel_task("twice")
    await manager.wait("twice")
    state = flow.require_state("twice")
    assert state.report is not None
    first_cited = {r.source_id for r in state.report.references}
    assert first_cited == {"norway-economy", "norway-climate"}  # held after the first sub-question

    research_gate.open()
    compress_gate = engine.hold(ResearchStage.COMPRESSION)
    await manager.submit_research("twice", flow.resume_research(state))
    await compress_gate.reached()
    assert state.report is None  # no stale partial report shown while the run goes on
    await manager.cancel_task("twice")
    await manager.wait("twice")

    assert state.current_stage is ResearchStage.CANCELLED
    assert state.report is not None and state.report.metadata.partial
    assert {r.source_id for r in state.report.references} == {p.document_id for p in state.passages} > first_cited


async def test_a_stream_callback_follows_the_resumed_leg_of_a_cancelled_run(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions, manager: BackgroundTaskManager
) -> None:
    gate = engine.hold(ResearchStage.BRIEF_GENERATION)
    await manager.submit_research("leg", flow.run(QUESTION, request_id="leg", options=options))
    await gate.reached()
    await manager.cancel_task("leg")
    await manager.wait("leg")
    gate.open()
    got: list[object] = []

    await flow.resume_research(flow.require_state("leg"), stream_callback=got.append)

    assert isinstance(got[0], RunStarted) and got[0].resumed
    assert isinstance(got[-1], RunFinished) and got[-1].status == "completed"
    first_leg = [e for e in flow.events.history("leg") if e.seq < got[0].seq]
    assert got == flow.events.history("leg")[len(first_leg) :]
