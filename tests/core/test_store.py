"""The run store: atomic saves after every stage, reading back in a new process, damage contained, no secrets."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core import store as store_module
from research_nb.core.errors import CorruptRunError, UnknownRequestError
from research_nb.core.store import RunStore, Snapshot
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import OfflineEngine
from research_nb.models.api_models import APIKeys
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState
from research_nb.sources.corpus import Corpus

QUESTION = "How do the economies of Norway and Sweden differ?"


def fresh(store: RunStore, engine: MemoryEngine | None = None, **options: float) -> ResearchWorkflow:
    """A workflow as a new process would have it: nothing in memory, the same store on disk."""
    flow = ResearchWorkflow(store=store, **options)
    if engine is not None:
        flow.engines.register(ENGINE_NAME, lambda: engine)
    return flow


async def test_a_finished_run_is_read_back_by_a_new_process(tmp_path: Path, engine: MemoryEngine) -> None:
    store = RunStore(tmp_path)
    state = await fresh(store, engine).run(
        "How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME)
    )
    assert state.current_stage is ResearchStage.COMPLETED
    again = fresh(store, engine).require_state(state.request_id)
    assert again == state
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [f"{state.request_id}.json"]
    assert list(tmp_path.rglob("*.tmp")) == []  # no temporary file left behind


async def test_every_completed_stage_is_saved_before_the_next_begins(tmp_path: Path, engine: MemoryEngine) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine, max_unsaved_seconds=0)
    gate = engine.hold(ResearchStage.COMPRESSION)
    state = flow.prepare("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    task = asyncio.get_running_loop().create_task(flow.resume_research(state))
    await gate.reached(1)
    saved = store.load(state.request_id)  # what survives if the process is killed now
    assert saved.completed_stages == [
        ResearchStage.CLARIFICATION,
        ResearchStage.BRIEF_GENERATION,
        ResearchStage.RESEARCH_EXECUTION,
    ]
    assert saved.passages and saved.brief is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_run_of_quick_stages_is_saved_when_accepted_and_when_complete_only(
    tmp_path: Path, engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    written: list[ResearchStage | None] = []
    write = RunStore.write
    monkeypatch.setattr(
        RunStore, "write", lambda self, snap: (written.append(snap.summary.stage), write(self, snap))[1]
    )
    state = await fresh(store, engine).run(
        "How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME)
    )
    assert written == [ResearchStage.PENDING, ResearchStage.COMPLETED]  # each stage took milliseconds
    assert store.load(state.request_id) == state


async def test_a_stage_longer_than_the_unsaved_limit_is_saved_before_the_next_begins(
    tmp_path: Path, engine: MemoryEngine
) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine, max_unsaved_seconds=0.05)
    research, compression = engine.hold(ResearchStage.RESEARCH_EXECUTION), engine.hold(ResearchStage.COMPRESSION)
    state = flow.prepare("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    task = asyncio.get_running_loop().create_task(flow.resume_research(state))
    await research.reached(1)
    assert store.load(state.request_id).completed_stages == []  # two quick stages: less than the limit unsaved
    await asyncio.sleep(0.1)  # the research stage takes longer than the limit
    research.open()
    await compression.reached(1)
    assert store.load(state.request_id).completed_stages == [
        ResearchStage.CLARIFICATION,
        ResearchStage.BRIEF_GENERATION,
        ResearchStage.RESEARCH_EXECUTION,
    ]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.load(state.request_id).current_stage is ResearchStage.CANCELLED  # a stop is saved at once


def test_an_interim_save_is_swapped_into_place_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    state = ResearchState(user_query="How do tides work?")
    store.save(state)
    replaced: list[str] = []
    replace = os.replace
    monkeypatch.setattr(store_module.os, "replace", lambda a, b: (replaced.append(str(b)), replace(a, b))[1])
    for stage in (ResearchStage.CLARIFICATION, ResearchStage.BRIEF_GENERATION):
        state.finish_stage(stage)
        store.write(store.snapshot(state, interim=True))
        assert store.load(state.request_id).completed_stages[-1] is stage  # the newer state, whole
    assert replaced == []  # swapped, not renamed over the older file
    state.complete()
    store.write(store.snapshot(state))  # the save a run ends with: renamed over, as always
    assert replaced == [str(tmp_path / f"{state.request_id}.json")]
    assert store.load(state.request_id).current_stage is ResearchStage.COMPLETED
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.jsonl", f"{state.request_id}.json"]  # no temporary


async def test_a_run_cancelled_while_a_stage_is_being_saved_is_stored_cancelled(
    tmp_path: Path, engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine)
    in_write, release, stale_written = threading.Event(), threading.Event(), threading.Event()
    write = RunStore.write

    def slow_write(self: RunStore, snapshot: Snapshot) -> Path:
        if threading.current_thread() is threading.main_thread():
            return write(self, snapshot)
        in_write.set()  # a stage's save, in its thread
        release.wait(10)
        try:
            return write(self, snapshot)
        finally:
            stale_written.set()

    monkeypatch.setattr(RunStore, "write", slow_write)
    state = flow.prepare("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    task = asyncio.get_running_loop().create_task(flow.resume_research(state))
    assert await asyncio.to_thread(in_write.wait, 10)  # the first stage is done and its save is being written
    task.cancel()
    threading.Timer(0.2, release.set).start()  # the stale save lands only after the stop's own save began
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(stale_written.wait, 10)
    stored = store.load(state.request_id)  # what a new process finds
    assert stored.current_stage is ResearchStage.CANCELLED
    assert stored.cancel_reason == state.cancel_reason


async def test_a_run_killed_mid_stage_resumes_to_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    uninterrupted = await ResearchWorkflow().run(QUESTION)
    assert uninterrupted.report is not None

    # First "process": the research stage hangs (as if killed there); only its checkpoints are on disk.
    release = threading.Event()
    search = Corpus.search_sync
    monkeypatch.setattr(Corpus, "search_sync", lambda self, q, k=10: (release.wait(30), search(self, q, k))[1])
    first = fresh(store, max_unsaved_seconds=0)  # its quick stages saved too: the brief is on disk
    first.engines.register("offline", lambda: OfflineEngine(in_worker=False))  # the patched search is ours
    state = first.prepare(QUESTION)
    task = asyncio.get_running_loop().create_task(first.resume_research(state))
    async with first.events.subscribe(state.request_id) as events:
        async for event in events:
            if event.type == "stage_started" and event.stage is ResearchStage.RESEARCH_EXECUTION:
                break
    saved = store.load(state.request_id)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    store.save(saved)  # the file as the killed process left it: brief done, research not
    monkeypatch.undo()

    second = fresh(store)
    interrupted = second.require_state(state.request_id)
    assert interrupted.current_stage is ResearchStage.CANCELLED  # nothing drives it in this process
    assert interrupted.cancel_reason and interrupted.cancel_reason.startswith("Interrupted")
    resumed = await second.resume_research(interrupted)
    assert resumed.current_stage is ResearchStage.COMPLETED
    assert resumed.report is not None
    assert resumed.report.markdown == uninterrupted.report.markdown


async def test_a_damaged_record_is_reported_alone(tmp_path: Path, engine: MemoryEngine) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine)
    good = [
        await flow.run(f"How does Norway's economy work? ({n})", options=ResearchOptions(engine=ENGINE_NAME))
        for n in range(2)
    ]
    (tmp_path / "broken1.json").write_text('{"request_id": "broken1", "user_query": ')
    listing = store.scan()
    assert [d.path for d in listing.damaged] == [str(tmp_path / "broken1.json")]
    assert listing.damaged[0].problem.startswith("not valid JSON")
    assert {r.request_id: r.stage for r in listing.runs} == {s.request_id: ResearchStage.COMPLETED for s in good}
    with pytest.raises(CorruptRunError, match=r"broken1.*not valid JSON.*runs --delete broken1"):
        store.load("broken1")
    with pytest.raises(UnknownRequestError):
        store.load("../../etc/passwd")


async def test_concurrent_runs_writing_at_once_lose_nothing(tmp_path: Path, engine: MemoryEngine) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine)
    states = await asyncio.gather(
        *(
            flow.run(f"How does Sweden's economy work? ({n})", options=ResearchOptions(engine=ENGINE_NAME))
            for n in range(20)
        )
    )
    stored = {r.request_id: r for r in store.list_runs()}
    assert len(stored) == 20
    for state in states:
        assert store.load(state.request_id) == state


async def test_keys_are_never_written(tmp_path: Path) -> None:
    canary = "sk-canary-7f3a9c1e5b"
    store = RunStore(tmp_path)
    state = await fresh(store).run(QUESTION, api_keys=APIKeys(openai=canary, tavily=canary))
    assert state.current_stage is ResearchStage.COMPLETED
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(files) >= 3  # the run, the index, the lease
    for path in files:
        assert canary not in path.read_text(errors="replace")


async def test_old_runs_can_be_deleted(tmp_path: Path, engine: MemoryEngine) -> None:
    store = RunStore(tmp_path)
    state = await fresh(store, engine).run(
        "How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME)
    )
    assert store.delete_older_than(timedelta(days=1)) == []
    assert store.delete_older_than(timedelta(seconds=0)) == [state.request_id]
    assert store.list_runs() == []


def test_a_full_disk_does_not_fail_the_run(tmp_path: Path, engine: MemoryEngine) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    flow = fresh(RunStore(blocker / "runs"), engine)
    state = asyncio.run(flow.run("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME)))
    assert state.current_stage is ResearchStage.COMPLETED
    assert any("could not save run" in w for w in state.warnings)
