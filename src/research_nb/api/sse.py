"""A run's events as the Server-Sent Events of the wire contract.

Each frame is `id: <seq>`, `event: <name>`, `data: <one-line JSON>` with a JSON `type` that pairs with the event
name the way the seed's clients expect (`connection`/`connected`, `update`/`update`, `stage`/`stage_completed`,
`error`/`error`, `complete`/`completed`, `ping`/`heartbeat`). Events those clients do not know (sources found,
sub-question progress, usage, clarifying questions, pauses) keep their own names, which old clients ignore.

The stream subscribes to the run's channel with replay, so a client that connects late, or only after the run
ended, still gets the whole story; it closes right after the `complete` frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from research_nb.api.settings import ServerSettings
from research_nb.core.events import (
    ClarificationRequested,
    ErrorRaised,
    LogMessage,
    ResearchEvent,
    ResearchEventBus,
    RunFinished,
    RunPaused,
    RunStarted,
    StageFinished,
    StageStarted,
    WarningRaised,
)
from research_nb.models.research import ResearchState, utcnow

logger = logging.getLogger(__name__)

#: The line separator of the frames: plain `\n`, which every SSE client splits on.
_SEP = "\n"


class FrameWriter:
    """Turns one run's events, in order, into frames. Keeps the stage the run is in, for events that carry none."""

    def __init__(self, state: ResearchState) -> None:
        self._state = state
        self._stage_name = "PENDING"  # the replay starts at the run's beginning
        self._last_seq = 0

    def connected(self) -> ServerSentEvent:
        state = self._state
        return self._frame(
            "connection",
            {
                "type": "connected",
                "request_id": state.request_id,
                "message": f"Connected to the event stream of research {state.request_id}",
                "stage": state.current_stage.name,
            },
        )

    def heartbeat(self) -> ServerSentEvent:
        return self._frame("ping", {"type": "heartbeat", "request_id": self._state.request_id})

    def event(self, event: ResearchEvent) -> ServerSentEvent:
        self._last_seq = event.seq
        payload: dict[str, Any] = event.model_dump(mode="json")
        name, extra = self._translate(event)
        payload.update(extra)
        return self._frame(name, payload)

    def ended_without_replay(self) -> ServerSentEvent:
        """The `complete` frame of a finished run whose events are no longer kept (only its state is)."""
        state = self._state
        return self._frame(
            "complete",
            {
                "type": "completed",
                "request_id": state.request_id,
                "success": state.current_stage.name == "COMPLETED",
                "status": state.current_stage.value,
                "stage": state.current_stage.name,
                "duration": state.duration_seconds(),
                "error": state.error_message or state.cancel_reason,
                **self._report_fields(),
                "timestamp": utcnow().isoformat(),
            },
        )

    def _translate(self, event: ResearchEvent) -> tuple[str, dict[str, Any]]:
        """The frame's event name and the payload fields that differ from the event's own dump."""
        match event:
            case RunStarted():
                verb = "resumed" if event.resumed else "started"
                return "update", self._update(f"Research {verb} with the {event.engine} engine: {event.query}")
            case StageStarted():
                self._stage_name = event.stage.name
                return "update", self._update(f"{_words(event.stage.name)} started")
            case LogMessage():
                return "update", self._update(event.message)
            case WarningRaised():
                return "update", {**self._update(event.message), "level": "warning"}
            case StageFinished():
                return "stage", {
                    "type": "stage_completed",
                    "stage": event.stage.name,
                    "result": event.summary if event.success else None,
                    "error": None if event.success else (event.summary or "the stage did not finish"),
                }
            case ErrorRaised():
                # A run-ending error is reported at stage FAILED; `failed_stage` says where it happened.
                stage = event.stage.name if event.recoverable else "FAILED"
                return "error", {"stage": stage, "failed_stage": event.stage.name}
            case ClarificationRequested():
                return "clarification", {"clarification_url": f"/research/{event.request_id}/clarification"}
            case RunPaused():
                self._stage_name = event.stage.name
                return "run_paused", {"stage": event.stage.name}
            case RunFinished():
                self._stage_name = event.stage.name
                return "complete", {
                    "type": "completed",
                    "success": event.status == "completed",
                    "stage": event.stage.name,
                    **self._report_fields(),
                }
            case _:  # sub_question, source_found, usage: their own name and shape
                return event.type, {}

    def _update(self, content: str) -> dict[str, Any]:
        return {"type": "update", "stage": self._stage_name, "content": content}

    def _report_fields(self) -> dict[str, Any]:
        report = self._state.report
        return {"has_report": report is not None, "report": None if report is None else report.model_dump(mode="json")}

    def _frame(self, name: str, payload: dict[str, Any]) -> ServerSentEvent:
        # ASCII JSON: no raw U+2028 or other exotic line breaks that a client's line splitter might honour
        data = json.dumps(payload, separators=(",", ":"))
        return ServerSentEvent(data=data, event=name, id=str(self._last_seq), sep=_SEP)


def _words(stage_name: str) -> str:
    return stage_name.replace("_", " ").capitalize()


async def _frames(
    state: ResearchState, bus: ResearchEventBus, heartbeat_seconds: float, after_seq: int
) -> AsyncIterator[ServerSentEvent]:
    writer = FrameWriter(state)
    yield writer.connected()
    if state.is_finished and not bus.is_finished(state.request_id):
        yield writer.ended_without_replay()  # its events were forgotten; its state says how it ended
        return
    async with bus.subscribe(state.request_id) as events:
        iterator = aiter(events)
        while True:
            try:
                async with asyncio.timeout(heartbeat_seconds):
                    event = await anext(iterator)
            except TimeoutError:
                yield writer.heartbeat()
                continue
            except StopAsyncIteration:
                return
            frame = writer.event(event)
            if event.seq > after_seq:  # a reconnecting client (Last-Event-ID) has seen the rest
                yield frame
            if isinstance(event, RunFinished):
                return


def event_stream(
    state: ResearchState,
    bus: ResearchEventBus,
    settings: ServerSettings,
    *,
    last_event_id: int,
    on_shutdown: Callable[[], Awaitable[object]],
) -> EventSourceResponse:
    """The streaming response for one run. When the server shuts down, `on_shutdown` is awaited (it cancels the
    run) and the stream gets `shutdown_grace_seconds` to deliver the run's final frame before it is cut."""
    shutting_down = anyio.Event()

    async def watch_shutdown() -> None:
        await shutting_down.wait()
        logger.info("server shutting down: cancelling streamed research %s", state.request_id)
        await on_shutdown()

    return EventSourceResponse(
        _frames(state, bus, settings.heartbeat_seconds, last_event_id),
        ping=0,  # heartbeats come from `_frames`, after silence, as contract frames
        sep=_SEP,
        headers={"Cache-Control": "no-cache, no-store"},
        data_sender_callable=watch_shutdown,
        shutdown_event=shutting_down,
        shutdown_grace_period=settings.shutdown_grace_seconds,
    )
