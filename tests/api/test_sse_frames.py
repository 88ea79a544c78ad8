"""Which story a run's stream tells: the live channel's, or the run store's when the bus has forgotten the run."""

from __future__ import annotations

import asyncio
import json

from research_nb.api.sse import _frames
from research_nb.core.events import ResearchEventBus, RunFinished, RunStarted, StageStarted
from research_nb.models.research import ResearchStage, ResearchState

HEARTBEAT_S = 5.0


def _finished_state() -> ResearchState:
    state = ResearchState(user_query="How does Norway's economy work?")
    state.current_stage = ResearchStage.COMPLETED
    return state


async def test_a_stream_between_the_saved_end_and_run_finished_follows_the_live_channel() -> None:
    """The workflow saves a finished state before it emits `RunFinished`: a client that connects in between must
    get the run's own events, not "no longer kept" (a late subscriber in CI once did)."""
    bus = ResearchEventBus()
    state = _finished_state()
    rid = state.request_id
    bus.emit(RunStarted(request_id=rid, query=state.user_query, engine="offline"))
    bus.emit(StageStarted(request_id=rid, stage=ResearchStage.CLARIFICATION))

    async def collect() -> list[tuple[str | None, dict[str, object]]]:
        return [(f.event, json.loads(str(f.data))) async for f in _frames(state, bus, HEARTBEAT_S, after_seq=0)]

    reading = asyncio.create_task(collect())
    await asyncio.sleep(0.05)  # the stream is connected and waiting: the run is still saving its end
    assert not reading.done()
    bus.emit(RunFinished(request_id=rid, status="completed", stage=ResearchStage.COMPLETED))
    frames = await asyncio.wait_for(reading, timeout=5)

    assert [event for event, _ in frames] == ["connection", "update", "update", "complete"]
    assert not any("no longer kept" in str(data.get("content")) for _, data in frames)


async def test_a_run_the_bus_has_forgotten_is_told_from_the_store() -> None:
    state = _finished_state()
    frames = [f async for f in _frames(state, ResearchEventBus(), HEARTBEAT_S, after_seq=0)]

    assert [f.event for f in frames] == ["connection", "update", "complete"]
    assert "no longer kept" in json.loads(str(frames[1].data))["content"]
