"""The worker-process protocol: a stage run in a worker reports to the run as if it ran here, stops when
cancelled, and a worker that dies fails its stages with a clear message and is replaced. Real processes."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from research_nb.core import workers as workers_module
from research_nb.core.events import LogMessage, ResearchEventBus, SourceFound, SubQuestionProgress, WarningRaised
from research_nb.core.protocols import StageContext
from research_nb.core.workers import Call, Forget, Recipe, WorkerDiedError, WorkerPool
from research_nb.models.research import Finding, Passage, ResearchBrief, ResearchState
from worker_engines import ScriptedEngine

SCRIPTED = Recipe(ScriptedEngine)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    fresh = WorkerPool(enabled=True)
    yield fresh
    fresh.shutdown()


def context(**metadata: str) -> StageContext:
    state = ResearchState(user_query="How do tides work?", metadata=dict(metadata))
    return StageContext(state, ResearchEventBus())


async def eventually(check: object, seconds: float = 20.0) -> None:
    """Poll `check()` until true (bounded): for effects in another process."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_events_arrive_in_order_and_the_state_comes_back(pool: WorkerPool) -> None:
    ctx = context()
    bus: ResearchEventBus = ctx._bus  # type: ignore[assignment]
    seen_passages_at_source: list[int] = []
    events = []

    async def follow() -> None:
        async with bus.subscribe(ctx.request_id) as subscription:
            async for event in subscription:
                events.append(event)
                if isinstance(event, SourceFound):
                    seen_passages_at_source.append(len(ctx.state.passages))
                if isinstance(event, LogMessage) and event.message == "last line":
                    return

    follower = asyncio.get_running_loop().create_task(follow())
    assert await pool.call(SCRIPTED, "research", ctx) == "researched"
    await asyncio.wait_for(follower, 10)

    kinds = [
        (type(e).__name__, getattr(e, "message", getattr(e, "status", getattr(e, "source_id", "")))) for e in events
    ]
    assert kinds == [
        ("LogMessage", "first line"),
        ("SubQuestionProgress", "searching"),
        ("SourceFound", "d0"),
        ("SourceFound", "d1"),
        ("SourceFound", "d2"),
        ("WarningRaised", "one file could not be read"),
        ("SubQuestionProgress", "done"),
        ("LogMessage", "last line"),
    ]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert seen_passages_at_source == [3, 3, 3]  # a source's passages are in the state before it is announced
    state = ctx.state
    assert [p.id for p in state.passages] == ["d0#0", "d1#0", "d2#0"]
    assert all(p.sub_question_ids == ["sq1"] for p in state.passages)
    assert [s.title for s in state.sources] == ["Document zero", "Document 1", "Document 2"]
    assert state.warnings == ["one file could not be read"]
    assert state.metadata == {"documents_searched": 3}
    assert isinstance(events[1], SubQuestionProgress) and isinstance(events[5], WarningRaised)


async def test_the_fields_a_stage_changed_come_back_and_the_others_stay_as_they_were(pool: WorkerPool) -> None:
    ctx = context()
    ctx.add_passages([Passage(id="d0#0", document_id="d0", title="Document 0", text="Tide fact 0.")], "sq1")
    sources = ctx.state.sources
    assert await pool.call(SCRIPTED, "revise", ctx) == "revised"
    assert ctx.state.passages[0].score == 2.5  # changed in place in the worker: sent back all the same
    assert ctx.state.brief is not None and [sq.id for sq in ctx.state.brief.sub_questions] == ["sq1"]
    assert ctx.state.sources is sources  # unchanged there: not sent back, this process's own list kept
    assert await pool.call(SCRIPTED, "research", ctx) == "researched"  # its passages arrive by `Recorded` only
    assert [(p.id, p.sub_question_ids) for p in ctx.state.passages] == [
        ("d0#0", ["sq1"]),
        ("d1#0", ["sq1"]),
        ("d2#0", ["sq1"]),
    ]
    assert [s.title for s in ctx.state.sources] == ["Document 0", "Document 1", "Document 2"]


def sent_calls(pool: WorkerPool, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """The `Call`s the pool sends from now on, as they were sent."""
    calls: list[Call] = []
    send = workers_module._Process.send

    def recording(self: workers_module._Process, message: object) -> None:
        if isinstance(message, Call):
            calls.append(message)
        send(self, message)  # type: ignore[arg-type]

    monkeypatch.setattr(workers_module._Process, "send", recording)
    return calls


async def test_a_stage_sees_the_state_as_it_is_here_though_the_worker_keeps_what_it_holds(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = sent_calls(pool, monkeypatch)
    ctx = context()
    assert await pool.call(SCRIPTED, "research", ctx) == "researched"
    here = [(p.id, p.sub_question_ids) for p in ctx.state.passages]
    ctx.state.brief = ResearchBrief(objective="set here", sub_questions=[])  # as the workflow sets a stage's result
    assert await pool.call(SCRIPTED, "seen", ctx) == (here, "set here", 0)
    assert "passages" in calls[-1].kept and "brief" not in calls[-1].kept  # the passages were not sent again

    ctx.add_passages([Passage(id="d7#0", document_id="d7", title="Document 7", text="Tide fact 7.")], "sq2")
    assert (await pool.call(SCRIPTED, "seen", ctx))[0] == [*here, ("d7#0", ["sq2"])]  # one more here: all sent
    assert "passages" not in calls[-1].kept

    ctx.state.passages = [ctx.state.passages[1]]  # replaced, as a resumed run's are
    ctx.state.findings = [Finding(sub_question_id="sq1", text="Tides follow the moon.", passage_ids=["d1#0"])]
    assert await pool.call(SCRIPTED, "seen", ctx) == ([here[1]], "set here", 1)


async def test_a_run_the_worker_no_longer_keeps_is_sent_whole(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_module, "_KEPT_RUNS", 2)
    calls = sent_calls(pool, monkeypatch)
    first, *others = [context() for _ in range(3)]
    for ctx in (first, *others):  # the first run's state is forgotten once two later runs are kept
        await pool.call(SCRIPTED, "research", ctx)
    assert await pool.call(SCRIPTED, "seen", first) == ([(p.id, ["sq1"]) for p in first.state.passages], None, 0)
    assert calls[-1].kept == ()
    assert await pool.call(SCRIPTED, "seen", others[-1]) == ([(f"d{n}#0", ["sq1"]) for n in range(3)], None, 0)
    assert "passages" in calls[-1].kept


async def test_a_replaced_worker_gets_the_whole_state(pool: WorkerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = sent_calls(pool, monkeypatch)
    ctx = context()
    await pool.call(SCRIPTED, "research", ctx)
    pid = await pool.call(SCRIPTED, "pid", ctx)
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: pool.pid != pid)
    assert (await pool.call(SCRIPTED, "seen", ctx))[0] == [(f"d{n}#0", ["sq1"]) for n in range(3)]
    assert calls[-1].kept == ()


async def test_bursts_of_events_arrive_whole_in_order_before_the_result(pool: WorkerPool) -> None:
    ctx = context()
    bus: ResearchEventBus = ctx._bus  # type: ignore[assignment]
    assert await pool.call(SCRIPTED, "chatter", ctx) == "chattered"
    events = bus.history(ctx.request_id)
    lines = [e.message for e in events if isinstance(e, LogMessage)]
    assert lines == [f"line {n}" for n in range(900)]
    found = next(i for i, e in enumerate(events) if isinstance(e, SourceFound))
    assert [type(e).__name__ for e in events[found - 1 : found + 2]] == ["LogMessage", "SourceFound", "LogMessage"]
    assert events[found - 1].message == "line 599"  # type: ignore[union-attr]
    assert [p.id for p in ctx.state.passages] == ["d9#0"]


async def test_calls_bigger_than_the_pipe_takes_at_once_arrive_whole_and_in_order(pool: WorkerPool) -> None:
    # A state of megabytes is more than the socket takes without waiting: the writer thread writes the rest, and
    # the calls sent meanwhile must queue behind it, not cut into it (the worker would read garbage and die).
    contexts = [context(note="x" * (8_000_000 if n % 6 == 0 else 10)) for n in range(30)]
    for n, ctx in enumerate(contexts):
        ctx.state.user_query = f"Question {n} about tides?"
    calls = []
    for ctx in contexts:  # sent a moment apart: some while the pipe has room again and a big one is half written
        calls.append(asyncio.ensure_future(pool.call(SCRIPTED, "query_and_note", ctx)))
        await asyncio.sleep(0.0002)
    results = await asyncio.wait_for(asyncio.gather(*calls), 20)
    assert results == [(f"Question {n} about tides?", 8_000_000 if n % 6 == 0 else 10) for n in range(30)]
    assert await pool.call(SCRIPTED, "query_and_note", context()) == ("How do tides work?", 0)  # one worker all along
    assert pool._current is not None and pool._current.queued == 0


def test_what_the_pipe_does_not_take_at_once_is_written_whole_before_anything_after_it() -> None:
    ours, theirs = socket.socketpair()
    sender = workers_module._Process(None, None, ours)  # type: ignore[arg-type]  # only its pipe is used here
    messages = [Forget("a" * 3_000_000), Forget("b"), Forget("c" * 1_000_000), Forget("d")]
    sender.send(messages[0])  # far more than the socket's buffer takes: the rest waits for the writer thread
    sender.send(messages[1])
    received = bytearray(theirs.recv(100_000))  # the pipe has room again, in the middle of the first message
    sender.send(messages[2])
    sender.send(messages[3])  # must not be written now, into the middle of the first
    sender.outbox.put(None)  # after those: the writer thread then closes its end
    writer = threading.Thread(target=sender.write)
    writer.start()
    with theirs:
        while chunk := theirs.recv(1 << 20):
            received += chunk
    writer.join(5)
    unframed = []
    while received:  # as `Connection.recv` reads them: a 4-byte length, then the pickle
        size = struct.unpack("!i", received[:4])[0]
        unframed.append(pickle.loads(received[4 : 4 + size]))
        del received[: 4 + size]
    assert unframed == messages
    assert sender.queued == 0


async def test_one_worker_serves_every_call_and_is_not_this_process(pool: WorkerPool) -> None:
    first = await pool.call(SCRIPTED, "pid", context())
    second = await pool.call(SCRIPTED, "pid", context())
    assert first == second == pool.pid
    assert first != os.getpid()
    assert psutil.Process(first).ppid() == os.getpid()


async def test_prepare_starts_the_worker_at_once_and_warms_the_engine_later_calls_use(pool: WorkerPool) -> None:
    pool.prepare(SCRIPTED, "warm_up")
    started = pool.pid
    assert started is not None and started != os.getpid()  # before any call
    assert await pool.call(SCRIPTED, "warmed_in_process", context()) == started


async def test_a_stage_error_is_raised_here_with_its_type_and_message(pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="the corpus is upside down"):
        await pool.call(SCRIPTED, "fail", context())
    assert await pool.call(SCRIPTED, "pid", context()) == pool.pid  # the worker lives on


async def test_a_result_that_cannot_be_pickled_fails_its_stage_and_its_events_still_arrive(pool: WorkerPool) -> None:
    ctx = context()
    with pytest.raises(Exception, match="pickle") as raised:
        await asyncio.wait_for(pool.call(SCRIPTED, "unpicklable", ctx), 20)  # an answer lost would hang the run
    assert not isinstance(raised.value, WorkerDiedError)
    assert [e.message for e in ctx._bus.history(ctx.request_id)] == [  # type: ignore[attr-defined]
        "about to return what cannot be pickled"
    ]
    assert await pool.call(SCRIPTED, "pid", context()) == pool.pid  # the worker goes on serving


async def test_cancelling_the_awaiting_task_cancels_the_stage_in_the_worker(pool: WorkerPool, tmp_path: Path) -> None:
    marker = tmp_path / "cancelled"
    ctx = context(marker=str(marker))
    task = asyncio.get_running_loop().create_task(pool.call(SCRIPTED, "hold", ctx))
    async with ctx._bus.subscribe(ctx.request_id) as subscription:  # type: ignore[attr-defined]
        async for event in subscription:
            if isinstance(event, LogMessage) and event.message.startswith("holding"):
                break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # at once: nothing waits for the worker
    await eventually(marker.exists)
    assert marker.read_text() == "cancelled in the worker"


async def test_a_killed_worker_fails_its_stages_clearly_and_is_replaced(pool: WorkerPool, tmp_path: Path) -> None:
    ctx = context(marker=str(tmp_path / "unused"))
    task = asyncio.get_running_loop().create_task(pool.call(SCRIPTED, "hold", ctx))
    async with ctx._bus.subscribe(ctx.request_id) as subscription:  # type: ignore[attr-defined]
        async for event in subscription:
            if isinstance(event, LogMessage) and event.message.startswith("holding"):
                break
    dead = pool.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    with pytest.raises(WorkerDiedError, match=rf"worker process \(pid {dead}\) was killed by SIGKILL"):
        await asyncio.wait_for(task, 20)
    replacement = await pool.call(SCRIPTED, "pid", context())
    assert replacement != dead and replacement == pool.pid
    assert not psutil.pid_exists(dead) or psutil.Process(dead).status() == psutil.STATUS_ZOMBIE


async def test_shutdown_leaves_no_child_process(pool: WorkerPool) -> None:
    pid = await pool.call(SCRIPTED, "pid", context())
    pool.shutdown()
    assert pool.pid is None
    assert pid not in [child.pid for child in psutil.Process().children(recursive=True)]
    assert not psutil.pid_exists(pid)


PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from research_nb.core.protocols import StageContext
    from research_nb.core.events import ResearchEventBus
    from research_nb.core.workers import Recipe, workers
    from research_nb.models.research import Passage, ResearchState
    from worker_engines import ScriptedEngine

    async def main():
        ctx = StageContext(ResearchState(user_query="q", metadata={"marker": "/dev/null"}), ResearchEventBus())
        print(await workers.call(Recipe(ScriptedEngine), "pid", ctx), flush=True)
        await workers.call(Recipe(ScriptedEngine), "hold", ctx)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_worker_exits_when_the_process_it_serves_dies(how: signal.Signals) -> None:
    """No atexit, no hook: the parent is killed while a stage runs; its worker must not outlive it."""
    tests = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, *sys.path])}
    with subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env) as parent:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert psutil.pid_exists(worker)
        parent.send_signal(how)
        parent.wait(20)
        deadline = time.monotonic() + 20
        while psutil.pid_exists(worker) and psutil.Process(worker).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.05)
