"""Typed run events and the per-run event bus.

Why not a plain list of callbacks: the seed's bus awaited every handler inside `emit`, so one slow subscriber
(a widget, an SSE client) stalled the research. Here `emit` only appends to bounded per-subscriber queues and
wakes the readers; readers pull at their own pace. Each run has its own channel with a replay buffer, so a
subscriber that arrives late still sees the whole story. When a queue overflows, the oldest *routine* events
(log lines, sources found) go first; stage changes, clarifications and the final event are never dropped.

`emit` is thread-safe (index building in a worker thread reports progress through it); a subscription belongs to
the event loop it was created on and is woken on that loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from research_nb.models.clarification import ClarificationRequest
from research_nb.models.research import ResearchStage, utcnow


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    seq: int = Field(0, description="Position in the run's stream, set by the bus (1, 2, ...)")
    timestamp: datetime = Field(default_factory=utcnow)

    #: Routine events may be dropped from a full subscriber queue; the others never are.
    routine: bool = Field(False, exclude=True)


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    query: str
    engine: str
    resumed: bool = False


class StageStarted(_Event):
    type: Literal["stage_started"] = "stage_started"
    stage: ResearchStage


class StageFinished(_Event):
    type: Literal["stage_finished"] = "stage_finished"
    stage: ResearchStage
    success: bool = True
    summary: str = ""


class SubQuestionProgress(_Event):
    type: Literal["sub_question"] = "sub_question"
    sub_question_id: str
    question: str
    status: Literal["pending", "searching", "done", "failed"]
    sources_found: int = 0


class SourceFound(_Event):
    type: Literal["source_found"] = "source_found"
    routine: bool = Field(True, exclude=True)
    source_id: str
    title: str
    origin: str = "local"
    url: str | None = None
    sub_question_id: str | None = None


class LogMessage(_Event):
    type: Literal["log"] = "log"
    routine: bool = Field(True, exclude=True)
    message: str


class IndexingProgress(_Event):
    """A corpus is being read and indexed before the run can search it (a cold start, a new folder).

    Sent as files are read and once more, not routine, with `finished` set when the index is ready.
    """

    type: Literal["indexing"] = "indexing"
    routine: bool = Field(True, exclude=True)
    corpus: str = Field(description="What is being indexed, in words: 'the World Factbook', '~/papers'")
    files_done: int = 0
    files_total: int = 0
    passages: int = 0
    seconds_left: float | None = Field(None, description="Estimated from the rate so far; None until known")
    finished: bool = False


class WarningRaised(_Event):
    type: Literal["warning"] = "warning"
    message: str


class ErrorRaised(_Event):
    type: Literal["error"] = "error"
    stage: ResearchStage
    message: str
    error_type: str = "RunFailure"
    recoverable: bool = False


class ClarificationRequested(_Event):
    type: Literal["clarification"] = "clarification"
    clarification: ClarificationRequest


class UsageUpdated(_Event):
    type: Literal["usage"] = "usage"
    routine: bool = Field(True, exclude=True)
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None


class RunPaused(_Event):
    """The run stopped to wait for the user (clarifying questions); the channel stays open for the resume."""

    type: Literal["run_paused"] = "run_paused"
    stage: ResearchStage
    reason: Literal["clarification"] = "clarification"


class RunFinished(_Event):
    """Always the last event of a run, whatever happened."""

    type: Literal["run_finished"] = "run_finished"
    status: Literal["completed", "failed", "cancelled"]
    stage: ResearchStage
    error: str | None = None
    has_report: bool = False
    duration: float | None = None


ResearchEvent = Annotated[
    RunStarted
    | StageStarted
    | StageFinished
    | SubQuestionProgress
    | SourceFound
    | LogMessage
    | IndexingProgress
    | WarningRaised
    | ErrorRaised
    | ClarificationRequested
    | UsageUpdated
    | RunPaused
    | RunFinished,
    Field(discriminator="type"),
]
event_adapter: TypeAdapter[ResearchEvent] = TypeAdapter(ResearchEvent)


class Subscription:
    """One reader of one run's events: an async iterator that ends after the run's final event.

    Use as `async with bus.subscribe(request_id) as events: async for event in events: ...`.
    """

    def __init__(self, channel: _Channel, max_queue: int) -> None:
        self._channel = channel
        self._max_queue = max_queue
        self._queue: deque[_Event] = deque()
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._ended = False  # the final event was delivered, or the reader closed
        self.dropped = 0

    # -- producer side (any thread, under the channel lock) -------------------------------------------------

    def _push(self, event: _Event) -> None:
        if len(self._queue) >= self._max_queue:
            victim = next((e for e in self._queue if e.routine), None)
            if victim is not None:
                self._queue.remove(victim)
                self.dropped += 1
        self._queue.append(event)
        self._notify()

    def _notify(self) -> None:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._wakeup.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    # -- consumer side -------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ResearchEvent]:
        return self

    async def __anext__(self) -> ResearchEvent:
        while True:
            with self._channel.lock:
                event = self._queue.popleft() if self._queue else None
                if event is None:
                    self._wakeup.clear()
            if event is not None:
                if isinstance(event, RunFinished):
                    self.close()
                return event  # type: ignore[return-value]
            if self._ended:
                raise StopAsyncIteration
            await self._wakeup.wait()

    def close(self) -> None:
        """Stop reading; the subscription leaves its channel. Idempotent."""
        self._ended = True
        self._channel.detach(self)
        self._notify()  # a reader waiting in `__anext__` (closed by someone else, e.g. a widget) must end too

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Channel:
    def __init__(self, request_id: str, history_size: int) -> None:
        self.request_id = request_id
        self.lock = threading.Lock()
        self.history: deque[_Event] = deque()
        self.history_size = history_size
        self.subscribers: list[Subscription] = []
        self.next_seq = 1
        self.finished = False

    def detach(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription in self.subscribers:
                self.subscribers.remove(subscription)

    def record(self, event: _Event) -> None:
        self.history.append(event)
        if len(self.history) > self.history_size:
            victim = next((e for e in self.history if e.routine), None)
            if victim is not None:
                self.history.remove(victim)


class ResearchEventBus:
    """Per-run channels of typed events with replay; `emit` never waits for a reader."""

    def __init__(self, *, queue_size: int = 1000, history_size: int = 5000, finished_channels: int = 64) -> None:
        self._queue_size = queue_size
        self._history_size = history_size
        self._finished_limit = finished_channels
        self._channels: dict[str, _Channel] = {}
        self._finished_order: deque[str] = deque()
        self._lock = threading.Lock()

    def _channel(self, request_id: str) -> _Channel:
        with self._lock:
            channel = self._channels.get(request_id)
            if channel is None:
                channel = self._channels[request_id] = _Channel(request_id, self._history_size)
            return channel

    def emit(self, event: ResearchEvent) -> ResearchEvent:
        """Number the event, keep it for replay and hand it to every subscriber. Never blocks."""
        channel = self._channel(event.request_id)
        with channel.lock:
            if isinstance(event, RunStarted):
                channel.finished = False  # a resumed run reopens its channel
            numbered = event.model_copy(update={"seq": channel.next_seq})
            channel.next_seq += 1
            channel.record(numbered)
            for subscription in list(channel.subscribers):
                subscription._push(numbered)
            if isinstance(numbered, RunFinished):
                channel.finished = True
                channel.subscribers.clear()  # they hold their queues; the run holds no readers any more
        if isinstance(numbered, RunFinished):
            self._note_finished(event.request_id)
        return numbered

    def subscribe(self, request_id: str, *, replay: bool = True) -> Subscription:
        """Follow a run. With `replay`, the run's past events come first (a finished run replays and ends).
        Without it, only events from now on: on a finished run, those of its next leg when it is resumed."""
        channel = self._channel(request_id)
        subscription = Subscription(channel, self._queue_size)
        with channel.lock:
            if replay:
                for event in channel.history:
                    subscription._push(event)
            if channel.finished and replay:
                subscription._ended = True
            else:
                channel.subscribers.append(subscription)
        return subscription

    def history(self, request_id: str) -> list[ResearchEvent]:
        with self._lock:
            channel = self._channels.get(request_id)
        if channel is None:
            return []
        with channel.lock:
            return list(channel.history)  # type: ignore[arg-type]

    def has_events(self, request_id: str) -> bool:
        """Whether the bus holds events of the run (to replay): none for a run it never saw or has forgotten."""
        with self._lock:
            channel = self._channels.get(request_id)
        return channel is not None and bool(channel.history)

    def is_finished(self, request_id: str) -> bool:
        with self._lock:
            channel = self._channels.get(request_id)
        return channel is not None and channel.finished

    def subscriber_count(self, request_id: str) -> int:
        with self._lock:
            channel = self._channels.get(request_id)
        return 0 if channel is None else len(channel.subscribers)

    def _note_finished(self, request_id: str) -> None:
        """Keep the replay of the last `finished_channels` runs; forget older ones."""
        with self._lock:
            if request_id in self._finished_order:
                self._finished_order.remove(request_id)
            self._finished_order.append(request_id)
            while len(self._finished_order) > self._finished_limit:
                old = self._finished_order.popleft()
                channel = self._channels.get(old)
                if channel is not None and channel.finished:
                    del self._channels[old]
