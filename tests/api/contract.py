"""The wire contract's SSE rules as checks, and a reader that applies them to every frame of a stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

from research_nb.models.research import ResearchStage

#: event name -> (JSON `type`, required fields), from http-contract.md
PAIRS: dict[str, tuple[str, set[str]]] = {
    "connection": ("connected", {"request_id", "message"}),
    "update": ("update", {"request_id", "stage", "content"}),
    "stage": ("stage_completed", {"request_id", "stage", "success"}),
    "error": ("error", {"request_id", "stage", "message"}),
    "complete": ("completed", {"request_id", "success"}),
    "ping": ("heartbeat", set()),
}
#: Richer events old clients ignore: their `type` is their event name.
RICH = {"sub_question", "source_found", "usage", "clarification", "run_paused", "indexing"}
STAGE_NAMES = {stage.name for stage in ResearchStage}


@dataclass(frozen=True)
class Frame:
    event: str
    id: int
    data: dict[str, Any]


def check_frame(sse: ServerSentEvent, request_id: str) -> Frame:
    """Assert one frame follows the contract and return it parsed."""
    assert "\n" not in sse.data, f"data must be one line: {sse.data!r}"
    # A run event carries its number (1, 2, ...); connection and heartbeat frames carry no id of their own, so
    # httpx-sse reports the last one seen ("" before any). Never an `id: 0`.
    assert sse.id != "0", f"a frame with id 0: {sse!r}"
    if sse.event not in ("connection", "ping"):
        assert sse.id.isdigit(), f"every run event has a numeric id: {sse!r}"
    data = json.loads(sse.data)
    if sse.event in PAIRS:
        expected_type, required = PAIRS[sse.event]
        assert data.get("type") == expected_type, f"event {sse.event!r} must carry type {expected_type!r}: {data}"
        missing = required - data.keys()
        assert not missing, f"{sse.event} frame lacks {missing}: {data}"
    else:
        assert sse.event in RICH, f"unexpected event name {sse.event!r}"
        assert data.get("type") == sse.event, f"a rich event's type is its name: {sse.event} vs {data}"
    if "stage" in data and sse.event != "ping":
        assert data["stage"] in STAGE_NAMES, f"stage must be an upper-case ResearchStage name: {data['stage']!r}"
    if sse.event != "ping" or "request_id" in data:
        assert data["request_id"] == request_id
    return Frame(sse.event, int(sse.id or 0), data)


@contextmanager
def open_stream(
    client: httpx.Client, request_id: str, headers: dict[str, str] | None = None
) -> Iterator[Iterator[Frame]]:
    """The run's frames, each checked against the contract, until the server closes the stream."""
    with connect_sse(client, "GET", f"/research/{request_id}/stream", headers=dict(headers or {})) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in source.response.headers["cache-control"]
        yield (check_frame(sse, request_id) for sse in source.iter_sse())


def read_until(frames: Iterator[Frame], done: Callable[[Frame], bool]) -> list[Frame]:
    """Frames up to and including the first one `done` accepts."""
    seen: list[Frame] = []
    for frame in frames:
        seen.append(frame)
        if done(frame):
            return seen
    raise AssertionError(f"the stream closed first; it sent {[f.event for f in seen]}")


def without_pings(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.event != "ping"]


def check_story(frames: list[Frame]) -> list[Frame]:
    """A whole stream: `connection` first, then the run's events numbered 1, 2, ... with none missing, and
    `complete` last. Returns the run's events (without the connection frame and pings)."""
    assert frames[0].event == "connection"
    events = without_pings(frames[1:])
    assert [f.id for f in events] == list(range(1, len(events) + 1)), "an event is missing or out of order"
    assert events[-1].event == "complete"
    return events
