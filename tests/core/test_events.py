"""The event bus: slow and late subscribers, bounded queues, release at run end, emits from worker threads."""

import asyncio
import threading

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.events import (
    LogMessage,
    ResearchEvent,
    ResearchEventBus,
    RunFinished,
    RunStarted,
    Subscription,
    event_adapter,
)
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage

QUESTION = "How do the economies of Norway and Sweden differ?"


def _workflow(engine: MemoryEngine, bus: ResearchEventBus) -> ResearchWorkflow:
    flow = ResearchWorkflow(bus=bus)
    flow.engines.register(ENGINE_NAME, lambda: engine)
    return flow


async def _read_all(subscription: Subscription) -> list[ResearchEvent]:
    return [event async for event in subscription]


async def test_a_subscriber_that_never_reads_does_not_hold_up_the_run(
    engine: MemoryEngine, options: ResearchOptions
) -> None:
    bus = ResearchEventBus(queue_size=16)
    flow = _workflow(engine, bus)
    engine.chatter = 200  # far more routine events than the queue holds
    idle = bus.subscribe("slow")

    async with asyncio.timeout(10):  # a guard against a hang, not a measurement
        state = await flow.run(QUESTION, request_id="slow", options=options)

    assert state.current_stage is ResearchStage.COMPLETED
    emitted = bus.history("slow")
    received = await _read_all(idle)
    # Its queue stayed bounded: only routine events (log lines, sources found) were dropped to keep it so...
    assert sum(e.routine for e in received) <= 16
    assert idle.dropped == len(emitted) - len(received) > 0
    # ...and every event that matters arrived, in order, ending with the final one.
    assert [e for e in received if not e.routine] == [e for e in emitted if not e.routine]
    assert received[-1] == emitted[-1] and isinstance(received[-1], RunFinished)
    assert [e.seq for e in received] == sorted(e.seq for e in received)


async def test_a_late_subscriber_gets_the_whole_story(flow: ResearchWorkflow, options: ResearchOptions) -> None:
    await flow.run(QUESTION, request_id="done", options=options)

    replayed = await _read_all(flow.events.subscribe("done"))

    assert replayed == flow.events.history("done")
    assert [e.seq for e in replayed] == list(range(1, len(replayed) + 1))
    assert isinstance(replayed[0], RunStarted) and isinstance(replayed[-1], RunFinished)
    assert flow.events.subscriber_count("done") == 0


async def test_a_subscriber_joining_mid_run_gets_the_past_then_the_rest_without_gaps(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    gate = engine.hold(ResearchStage.COMPRESSION)
    run = asyncio.create_task(flow.run(QUESTION, request_id="mid", options=options))
    await gate.reached()
    joined = flow.events.subscribe("mid")
    already = len(flow.events.history("mid"))

    gate.open()
    await run
    received = await _read_all(joined)

    assert received == flow.events.history("mid") and len(received) > already
    assert [e.seq for e in received] == list(range(1, len(received) + 1))


async def test_subscriptions_are_released_when_the_run_ends(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
    idle = flow.events.subscribe("rel")
    reading = asyncio.create_task(_read_all(flow.events.subscribe("rel")))
    run = asyncio.create_task(flow.run(QUESTION, request_id="rel", options=options, stream_callback=lambda e: None))
    await gate.reached()
    assert flow.events.subscriber_count("rel") == 3  # idle, reading, and the stream callback's

    gate.open()
    await run

    assert flow.events.subscriber_count("rel") == 0
    assert isinstance((await reading)[-1], RunFinished)
    assert isinstance((await _read_all(idle))[-1], RunFinished)


async def test_closing_a_subscription_ends_a_reader_waiting_on_it() -> None:
    """A widget closed while its reader task waits: the reader must end, not wait forever."""
    bus = ResearchEventBus()
    subscription = bus.subscribe("open-run")
    first = asyncio.Event()

    async def reader() -> list[ResearchEvent]:
        got = []
        async for event in subscription:
            got.append(event)
            first.set()
        return got

    task = asyncio.create_task(reader())
    bus.emit(LogMessage(request_id="open-run", message="one"))
    await first.wait()  # the reader has its event and is waiting for the next

    subscription.close()
    async with asyncio.timeout(5):  # a guard against a hang, not a measurement
        got = await task

    assert [e.seq for e in got] == [1]
    assert bus.subscriber_count("open-run") == 0


async def test_an_emit_from_a_worker_thread_wakes_an_async_subscriber() -> None:
    bus = ResearchEventBus()
    subscription = bus.subscribe("threaded")
    emitter = threading.Thread(
        target=bus.emit, args=(LogMessage(request_id="threaded", message="index built in a thread"),)
    )

    next_event = asyncio.ensure_future(anext(subscription))
    emitter.start()  # nothing else is scheduled on the loop: only the emit can wake it
    async with asyncio.timeout(5):  # a guard against a hang, not a measurement
        event = await next_event
    emitter.join()

    assert isinstance(event, LogMessage) and event.message == "index built in a thread" and event.seq == 1
    subscription.close()


async def test_events_survive_json_for_the_wire(flow: ResearchWorkflow, options: ResearchOptions) -> None:
    await flow.run(QUESTION, request_id="wire", options=options)
    history = flow.events.history("wire")

    assert [event_adapter.validate_json(e.model_dump_json()) for e in history] == history
    assert all(e.timestamp.tzinfo is not None for e in history)
    assert all('"routine"' not in e.model_dump_json() for e in history)


async def test_only_the_replay_of_recent_runs_is_kept(engine: MemoryEngine, options: ResearchOptions) -> None:
    flow = _workflow(engine, ResearchEventBus(finished_channels=2))
    for rid in ("a", "b", "c"):
        await flow.run(QUESTION, request_id=rid, options=options)

    assert flow.events.history("a") == []
    assert flow.events.history("b") and flow.events.history("c")
