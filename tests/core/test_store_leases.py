"""Ownership of live runs across processes: a run that another live process drives is shown as it is, never
marked interrupted, never resumed or deleted here; once that process is killed, the OS has dropped its lease and
the run is interrupted and resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.errors import InvalidStateError, RunOwnedElsewhereError
from research_nb.core.store import RunStore
from research_nb.core.workflow import INTERRUPTED_REASON, ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage

TESTS = Path(__file__).resolve().parents[1]

# Another process: runs a question held inside its research stage, says which, and keeps running until killed.
OWNER = """
import asyncio, sys
from pathlib import Path
from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage

async def main():
    engine = MemoryEngine()
    gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
    flow = ResearchWorkflow(store=RunStore(Path(sys.argv[1])), max_unsaved_seconds=0)  # its brief saved at once
    flow.engines.register(ENGINE_NAME, lambda: engine)
    state = flow.prepare("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    task = asyncio.get_running_loop().create_task(flow.resume_research(state))
    await gate.reached(1)
    print(state.request_id, flush=True)
    await task

asyncio.run(main())
"""


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A live process driving a run in `tmp_path`, and the run's id."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        request_id = process.stdout.readline().strip()
        assert request_id, "the owner process did not start its run"
        yield process, request_id
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def fresh(store: RunStore) -> ResearchWorkflow:
    flow = ResearchWorkflow(store=store)
    flow.engines.register(ENGINE_NAME, MemoryEngine)
    return flow


async def test_a_run_another_live_process_drives_is_shown_as_running_and_never_taken_over(
    tmp_path: Path, owner: tuple[subprocess.Popen[str], str]
) -> None:
    process, request_id = owner
    store = RunStore(tmp_path)
    here = fresh(store)

    seen = here.require_state(request_id)  # as last saved: its brief done, its research under way
    assert seen.completed_stages == [ResearchStage.CLARIFICATION, ResearchStage.BRIEF_GENERATION]
    assert not seen.is_finished and seen.cancel_reason is None
    assert store.load(request_id) == seen  # not rewritten as cancelled
    listing = store.scan()
    assert listing.status_of(listing.runs[0]) == f"running in process {process.pid}"

    with pytest.raises(RunOwnedElsewhereError, match=f"run {request_id} is being run by process {process.pid}"):
        here.claim(seen)
    with pytest.raises(RunOwnedElsewhereError):
        await here.resume_research(seen)
    with pytest.raises(RunOwnedElsewhereError):
        store.delete(request_id)
    with pytest.raises(RunOwnedElsewhereError, match="cancel it there"):
        here.cancel_idle(request_id)  # what a DELETE over HTTP does for a run no task of this process drives
    assert store.load(request_id) == seen

    os.kill(process.pid, signal.SIGKILL)  # no cleanup runs: only the OS drops the lease
    process.wait(timeout=10)

    interrupted = fresh(store).require_state(request_id)
    assert interrupted.current_stage is ResearchStage.CANCELLED and interrupted.cancel_reason == INTERRUPTED_REASON
    assert store.scan().status_of(store.scan().runs[0]) == "cancelled"
    resumed = await fresh(store).resume_research(interrupted)
    assert resumed.current_stage is ResearchStage.COMPLETED and resumed.report is not None
    assert store.load(request_id) == resumed


async def test_a_run_accepted_by_a_killed_process_before_its_first_stage_is_resumable(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = fresh(store)
    accepted = first.prepare("How does Sweden's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    assert store.load(accepted.request_id).current_stage is ResearchStage.PENDING  # stored at once
    first._release(accepted.request_id)  # as if its process died before the task took a step

    state = fresh(store).require_state(accepted.request_id)
    assert state.current_stage is ResearchStage.CANCELLED
    done = await fresh(store).resume_research(state)
    assert done.current_stage is ResearchStage.COMPLETED


async def test_a_stale_copy_cannot_overwrite_what_another_process_did_since(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a, b = fresh(store), fresh(store)
    state = await a.run("How does Norway's economy work?", options=ResearchOptions(engine=ENGINE_NAME))
    state.cancel("stopped")  # a cancelled run, seen by both processes
    store.save(state)
    a_copy = fresh(store).require_state(state.request_id)
    b_copy = b.require_state(state.request_id)
    await fresh(store).resume_research(a_copy)  # A resumes it to the end

    with pytest.raises(InvalidStateError, match="changed in another process"):
        await b.resume_research(b_copy)  # B's copy is older than the stored run
    assert b.require_state(state.request_id).current_stage is ResearchStage.COMPLETED  # read again
