"""A run's events as the Server-Sent Events of the wire contract.

Each frame is `id: <seq>`, `event: <name>`, `data: <one-line JSON>` with a JSON `type` that pairs with the event
name the way the seed's clients expect (`connection`/`connected`, `update`/`update`, `stage`/`stage_completed`,
`error`/`error`, `complete`/`completed`, `ping`/`heartbeat`). Events those clients do not know (sources found,
sub-question progress, usage, clarifying questions, pauses) keep their own names, which old clients ignore.

The stream subscribes to the run's channel with replay, so a client that connects late, or only after the run
ended, still gets the whole story; it closes right after the `complete` frame. For a finished run whose events
the server no longer keeps (it keeps the last 64 runs' events; the run store keeps every run's state), the stream
says so in an `update` and replays what the store holds: the completed stages, the error, the `complete` frame.
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
from research_nb.api.wire import fit_clarification, wire_report
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
from research_nb.models.research import ResearchStage, ResearchState, shorten

logger = logging.getLogger(__name__)

#: The line separator of the frames: plain `\n`, which every SSE client splits on.
_SEP = "\n"
#: How much of the question the run's opening `update` line repeats (the whole question is in `run_started`).
_QUERY_IN_UPDATE_CHARS = 200


class FrameWriter:
    """Turns one run's events, in order, into frames. Keeps the stage the run is in, for events that carry none.

    Only run events carry an `id:` (their number in the run, from 1): the connection and heartbeat frames carry
    none, so a reconnecting client's `Last-Event-ID` always names a real event. No `update` frame ever has stage
    PENDING (old clients' progress display hangs on it): the run's opening line waits for its first stage."""

    def __init__(self, state: ResearchState) -> None:
        self._state = state
        self._stage_name: str | None = None  # the replay starts at the run's beginning, before any stage
        self._opening: RunStarted | None = None

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

    def event(self, event: ResearchEvent) -> list[tuple[int, ServerSentEvent]]:
        """The frames for one event, each with the number of the event it reports (zero, one, or two: the
        run's opening line is sent once the stage it belongs to is known)."""
        if isinstance(event, RunStarted):
            self._opening = event
            return []
        frames: list[tuple[int, ServerSentEvent]] = []
        if isinstance(event, StageStarted | RunFinished | RunPaused | ErrorRaised):
            self._stage_name = event.stage.name
        if self._opening is not None:
            opening, self._opening = self._opening, None
            frames.append((opening.seq, self._event_frame(opening, *self._translate(opening))))
        frames.append((event.seq, self._event_frame(event, *self._translate(event))))
        return frames

    def story_from_state(self) -> list[ServerSentEvent]:
        """A finished run whose events are no longer kept (only the run store's record is): say so plainly, then
        what the record holds (the stages it completed, its error) and the `complete` frame, numbered 1, 2, ..."""
        state = self._state
        rid = state.request_id
        final = state.current_stage.name
        payloads: list[tuple[str, dict[str, Any]]] = [
            (
                "update",
                {
                    "type": "update",
                    "stage": final,
                    "content": f"The live events of research {rid} are no longer kept; this is how it ended, "
                    "from the run store",
                    "replayed_from": "store",
                },
            )
        ]
        payloads += [
            ("stage", {"type": "stage_completed", "stage": stage.name, "success": True, "result": None, "error": None})
            for stage in state.completed_stages
        ]
        if state.current_stage is ResearchStage.FAILED:
            message = state.error_message or "the run failed"
            payloads.append(("error", {"type": "error", "stage": "FAILED", "message": message, "recoverable": False}))
        payloads.append(
            (
                "complete",
                {
                    "type": "completed",
                    "success": state.current_stage is ResearchStage.COMPLETED,
                    "status": state.current_stage.value,
                    "stage": final,
                    "duration": state.duration_seconds(),
                    "error": state.error_message or state.cancel_reason,
                    **self._report_fields(),
                },
            )
        )
        timestamp = (state.completed_at or state.updated_at).isoformat()
        return [
            self._frame(name, {**payload, "request_id": rid, "timestamp": timestamp}, seq)
            for seq, (name, payload) in enumerate(payloads, start=1)
        ]

    def _event_frame(self, event: ResearchEvent, name: str, extra: dict[str, Any]) -> ServerSentEvent:
        payload: dict[str, Any] = event.model_dump(mode="json")
        payload.update(extra)
        return self._frame(name, payload, event.seq)

    def _translate(self, event: ResearchEvent) -> tuple[str, dict[str, Any]]:
        """The frame's event name and the payload fields that differ from the event's own dump."""
        match event:
            case RunStarted():
                verb = "resumed" if event.resumed else "started"
                query = shorten(event.query, _QUERY_IN_UPDATE_CHARS)
                return "update", self._update(f"Research {verb} with the {event.engine} engine: {query}")
            case StageStarted():
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
                return "clarification", {
                    "clarification": fit_clarification(event.clarification).model_dump(mode="json"),
                    "clarification_url": f"/research/{event.request_id}/clarification",
                }
            case RunPaused():
                return "run_paused", {"stage": event.stage.name}
            case RunFinished():
                return "complete", {
                    "type": "completed",
                    "success": event.status == "completed",
                    "stage": event.stage.name,
                    **self._report_fields(),
                }
            case _:  # sub_question, source_found, usage: their own name and shape
                return event.type, {}

    def _update(self, content: str) -> dict[str, Any]:
        # Never PENDING: every update comes after the run's first stage started (or with its end).
        return {"type": "update", "stage": self._stage_name or self._state.current_stage.name, "content": content}

    def _report_fields(self) -> dict[str, Any]:
        report = self._state.report
        wire = None if report is None else wire_report(report, self._state).model_dump(mode="json")
        return {"has_report": report is not None, "report": wire}

    def _frame(self, name: str, payload: dict[str, Any], seq: int | None = None) -> ServerSentEvent:
        # ASCII JSON: no raw U+2028 or other exotic line breaks that a client's line splitter might honour
        data = json.dumps(payload, separators=(",", ":"))
        return ServerSentEvent(data=data, event=name, id=None if seq is None else str(seq), sep=_SEP)


def _words(stage_name: str) -> str:
    return stage_name.replace("_", " ").capitalize()


async def _frames(
    state: ResearchState, bus: ResearchEventBus, heartbeat_seconds: float, after_seq: int
) -> AsyncIterator[ServerSentEvent]:
    writer = FrameWriter(state)
    yield writer.connected()
    # Told from the store only when the bus has nothing of the run. A run's state is finished (and saved) a moment
    # before its `RunFinished` is emitted: a stream that comes in between follows the live channel to its end.
    if state.is_finished and not bus.has_events(state.request_id):
        for number, frame in enumerate(writer.story_from_state(), start=1):
            if number > after_seq:
                yield frame
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
            for seq, frame in writer.event(event):
                if seq > after_seq:  # a reconnecting client (Last-Event-ID) has seen the rest
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
