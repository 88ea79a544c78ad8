"""research_many in this process: input forms, order, a bad question failing alone, exports, cancel-all, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pandas
import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.batch import questions_from_lines, read_questions, research_many, resume_batch
from research_nb.core.errors import UnknownRequestError, UserInputError
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchStage

COUNTRIES = ["Norway", "Sweden", "Chile", "Peru", "Japan", "Belgium"]


@pytest.fixture
def stored_flow(engine: MemoryEngine, tmp_path: Path) -> ResearchWorkflow:
    flow = ResearchWorkflow(store=RunStore(tmp_path / "runs"), max_finished_states=3)
    flow.engines.register(ENGINE_NAME, lambda: engine)
    return flow


async def test_states_come_back_in_input_order_and_a_bad_question_fails_alone(stored_flow: ResearchWorkflow) -> None:
    questions = [(f"q{n}", f"What is the economy of {c}?") for n, c in enumerate(COUNTRIES)]
    questions.insert(2, ("empty", "   "))
    batch = research_many(questions, engine=ENGINE_NAME, clarify=False, workflow=stored_flow, max_concurrency=3)
    states = await batch

    assert len(states) == 7
    assert states[2] is None
    ordered = [s.user_query for s in states if s is not None]
    assert ordered == [q for _, q in questions if q.strip()]
    assert all(s.current_stage is ResearchStage.COMPLETED for s in states if s is not None)
    progress = batch.progress()
    assert (progress.completed, progress.failed, progress.remaining) == (6, 1, 0)
    assert progress.errors[0][0] == "empty" and "empty" in progress.errors[0][1]
    # the workflow keeps 3 finished states in memory; the other runs are read back from the store
    assert len(stored_flow.list_states()) <= 3 + 1


async def test_records_pandas_and_jsonl(stored_flow: ResearchWorkflow, tmp_path: Path) -> None:
    series = pandas.Series([f"What is the economy of {c}?" for c in COUNTRIES[:3]], index=["a", "b", "c"])
    batch = research_many(series, engine=ENGINE_NAME, clarify=False, workflow=stored_flow)
    await batch

    records = batch.to_records()
    assert [r["id"] for r in records] == ["a", "b", "c"]
    assert all(r["status"] == "completed" and "Norway" in records[0]["report"] for r in records)
    frame = batch.to_pandas()
    assert list(frame.index) == ["a", "b", "c"] and frame.loc["b", "question"] == series["b"]
    saved = batch.save(tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert lines == json.loads(json.dumps(records))
    with pytest.raises(UserInputError, match=r"\.jsonl or \.parquet"):
        batch.save(tmp_path / "out.xlsx")


async def test_a_dataframe_column_and_question_files(stored_flow: ResearchWorkflow, tmp_path: Path) -> None:
    frame = pandas.DataFrame({"country": COUNTRIES[:2], "question": ["Norway economy?", "Sweden economy?"]})
    batch = research_many(frame, engine=ENGINE_NAME, clarify=False, workflow=stored_flow)
    assert [s.user_query for s in await batch if s] == ["Norway economy?", "Sweden economy?"]

    (tmp_path / "q.csv").write_text("id,question\nn,Norway economy?\ns,Sweden economy?\n")
    (tmp_path / "q.jsonl").write_text('{"query": "Norway economy?"}\n{"query": "Peru?"}\n')
    assert [q.id for q in read_questions(tmp_path / "q.csv")] == ["n", "s"]
    assert [q.question for q in read_questions(tmp_path / "q.jsonl")] == ["Norway economy?", "Peru?"]
    assert [q.question for q in questions_from_lines("  a?\n\n b? \n")] == ["a?", "b?"]
    with pytest.raises(UserInputError, match="appears twice"):
        research_many([("x", "a?"), ("x", "b?")], workflow=stored_flow)
    with pytest.raises(UserInputError, match="not one string"):
        research_many("What is Norway?", workflow=stored_flow)
    with pytest.raises(UserInputError, match="unknown option 'colour'"):
        research_many(["a?"], colour="red", workflow=stored_flow)


async def test_cancel_all_stops_every_run_and_resume_runs_only_what_is_missing(
    stored_flow: ResearchWorkflow, engine: MemoryEngine
) -> None:
    questions = [f"What is the economy of {c}?" for c in COUNTRIES]
    gate = engine.hold(ResearchStage.COMPRESSION)
    batch = research_many(questions, engine=ENGINE_NAME, clarify=False, workflow=stored_flow, max_concurrency=2)
    await gate.reached(2)  # two runs are under way, four wait their turn
    assert batch.cancel() is True
    await batch
    progress = batch.progress()
    assert (progress.completed, progress.cancelled) == (0, 6)
    assert all(stored_flow.get_state(i.request_id).current_stage is ResearchStage.CANCELLED for i in batch.items[:2])
    gate.open()

    resumed = resume_batch(batch.batch_id, workflow=stored_flow)
    states = await resumed
    assert resumed.progress().completed == 6
    assert [s.user_query for s in states if s] == questions
    finished_at = {i.request_id: stored_flow.get_state(i.request_id).updated_at for i in resumed.items}

    again = resume_batch(batch.batch_id, workflow=stored_flow)  # nothing is missing: nothing runs again
    await again
    assert all(item.reused for item in again.items)
    assert {i.request_id: stored_flow.get_state(i.request_id).updated_at for i in again.items} == finished_at
    with pytest.raises(UnknownRequestError, match="no batch"):
        resume_batch("batch-000000000000", workflow=stored_flow)


async def test_an_engine_failure_fails_its_question_alone(stored_flow: ResearchWorkflow, engine: MemoryEngine) -> None:
    engine.fail_in = ResearchStage.REPORT_GENERATION
    batch = research_many(["Norway?", "Sweden?"], engine=ENGINE_NAME, clarify=False, workflow=stored_flow)
    states = await batch
    assert [s.current_stage for s in states if s] == [ResearchStage.FAILED] * 2
    assert batch.progress().failed == 2 and "report generation stage failed" in (batch.items[0].error or "")


def test_without_a_running_loop_nothing_starts_and_nothing_is_written(stored_flow: ResearchWorkflow) -> None:
    from research_nb.batch._manifest import batches_dir

    before = set(batches_dir().glob("*.json")) if batches_dir().exists() else set()
    with pytest.raises(UserInputError, match="running event loop"):
        research_many(["Norway?"], engine=ENGINE_NAME, workflow=stored_flow)
    assert (set(batches_dir().glob("*.json")) if batches_dir().exists() else set()) == before
