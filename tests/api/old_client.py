"""A client of the old system, written from the wire contract (http-contract.md) alone: nothing of research_nb.

It does what those clients do and validates what they validate, with the same strictness: pydantic models with
the contract's field types and limits, `extra="ignore"` (unknown fields are fine), and a report or clarification
that does not validate is a failure (the old clients throw the report away, or poll for ever). Its stream reader
counts a frame only when the `event` name and the JSON `type` pair as the contract's table says, knows only the
old stage names, and fails where the old progress display would hang: an `update` with stage PENDING.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from httpx_sse import ServerSentEvent, connect_sse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

# -- the contract's models -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class Section(_Model):
    title: str
    content: str
    subsections: list[Section] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)


class Metadata(_Model):
    created_at: datetime
    version: str
    authors: list[str]
    keywords: list[str]
    classification: str | None
    source_summary: list[dict[str, Any]]
    citation_audit: dict[str, Any]


class Report(_Model):
    title: str
    executive_summary: str
    introduction: str
    methodology: str
    sections: list[Section]
    conclusions: str
    conclusion: str
    recommendations: list[str]
    references: list[str]
    appendices: dict[str, str] = Field(default_factory=dict)
    metadata: Metadata
    quality_score: float = Field(ge=0, le=1, validation_alias=AliasChoices("quality_score", "overall_quality_score"))


class Accepted(_Model):
    request_id: str
    status: Literal["accepted"]
    message: str
    stream_url: str | None
    report_url: str


class Status(_Model):
    request_id: str
    status: Literal["processing", "completed", "failed", "cancelled"]
    stage: str
    error: str | None
    report: Report | None


class Cancelled(_Model):
    request_id: str
    status: Literal["processing", "completed", "failed", "cancelled"]
    message: str
    task_cancelled: bool


class Choice(_Model):
    id: str
    label: str = Field(max_length=200)
    requires_details: bool = False
    is_other: bool = False
    details_prompt: str | None = None


class Question(_Model):
    id: str
    question: str = Field(min_length=1, max_length=500)
    is_required: bool = False
    question_type: Literal["text", "choice", "multi_choice"] = "text"
    choices: list[Choice] | None = Field(None, max_length=20)
    context: str | None = Field(None, max_length=1000)
    order: int = 0


class ClarificationRequest(_Model):
    id: str
    questions: list[Question] = Field(max_length=10)
    created_at: datetime
    context: str | None = Field(None, max_length=1000)


class PendingClarification(_Model):
    request_id: str
    state: Literal["awaiting_clarification"]
    awaiting_response: Literal[True]
    clarification_request: ClarificationRequest
    original_query: str


class Selection(_Model):
    id: str
    details: str | None = None


class Answer(_Model):
    question_id: str
    text: str | None = Field(None, max_length=2000)
    selection: Selection | None = None
    selections: list[Selection] | None = None
    skipped: bool = False


class Resumed(_Model):
    request_id: str
    status: Literal["resumed"]
    message: str
    current_stage: str


# -- the stream ----------------------------------------------------------------------------------------------

#: event name -> JSON `type`, and the fields a frame must have to count
PAIRS: dict[str, tuple[str, frozenset[str]]] = {
    "connection": ("connected", frozenset({"request_id", "message"})),
    "update": ("update", frozenset({"request_id", "stage", "content"})),
    "stage": ("stage_completed", frozenset({"request_id", "stage", "success"})),
    "error": ("error", frozenset({"request_id", "stage", "message"})),
    "complete": ("completed", frozenset({"request_id", "success"})),
    "ping": ("heartbeat", frozenset()),
}
OLD_STAGES = frozenset(
    {
        "PENDING",
        "CLARIFICATION",
        "QUERY_TRANSFORMATION",
        "RESEARCH_EXECUTION",
        "REPORT_GENERATION",
        "COMPLETED",
        "FAILED",
    }
)
#: Old clients time out after 30 s of silence; the contract promises a heartbeat at least every 15 s.
READ_TIMEOUT = 30.0


class ContractViolation(AssertionError):
    """Something an old client would choke on (or hang on, or throw away)."""


@dataclass
class Frame:
    event: str
    id: str
    data: dict[str, Any]


@dataclass
class Stream:
    """What an old client made of one stream."""

    seen: list[Frame] = field(default_factory=list)  # every frame, in order
    counted: list[Frame] = field(default_factory=list)  # the frames an old client acts on
    ignored: list[Frame] = field(default_factory=list)  # richer events, and frames with unknown stage names
    closed_after_complete: bool = False

    @property
    def complete(self) -> Frame:
        assert self.counted and self.counted[-1].event == "complete", [f.event for f in self.counted]
        return self.counted[-1]

    def of(self, event: str) -> list[Frame]:
        return [f for f in self.counted if f.event == event]


def report_in(frame: Frame) -> Report:
    """The report of a `complete` frame, validated as the old client validates it (from its JSON)."""
    return Report.model_validate_json(json.dumps(frame.data["report"]))


def _count(stream: Stream, sse_event: str, sse_id: str, raw: str) -> Frame:
    if sse_id == "0":
        raise ContractViolation(f"a frame with id 0: {sse_event} {raw}")
    if "\n" in raw:
        raise ContractViolation(f"data of more than one line: {raw!r}")
    data = json.loads(raw)
    frame = Frame(sse_event, sse_id, data)
    stream.seen.append(frame)
    pair = PAIRS.get(sse_event)
    if pair is None or data.get("type") != pair[0] or not pair[1] <= data.keys():
        stream.ignored.append(frame)
        return frame
    stage = data.get("stage")
    if sse_event in ("update", "stage", "error") and stage not in OLD_STAGES:
        stream.ignored.append(frame)  # dropped by old clients, harmlessly
        return frame
    if sse_event == "update" and stage == "PENDING":
        # the old progress display starts a line for it and deadlocks on the next update
        raise ContractViolation(f"an update with stage PENDING: {raw}")
    if sse_event == "complete" and data.get("report") is not None:
        report_in(frame)  # raises: the old client would drop the report
    stream.counted.append(frame)
    return frame


# -- the client ----------------------------------------------------------------------------------------------


class OldClient:
    """The old command-line client's calls, each validating its reply as that client does."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        timeout = httpx.Timeout(20.0, read=READ_TIMEOUT)
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers or {})

    def close(self) -> None:
        self.http.close()

    def submit(self, query: str, **options: object) -> Accepted:
        reply = self.http.post("/research", json={"query": query, **options})
        if reply.status_code not in (200, 202):
            raise ContractViolation(f"POST /research answered {reply.status_code}: {reply.text}")
        return Accepted.model_validate_json(reply.content)

    def _events(self, request_id: str) -> Iterator[ServerSentEvent]:
        """Each frame as it arrives, until the server closes the stream."""
        with connect_sse(self.http, "GET", f"/research/{request_id}/stream") as source:
            if source.response.status_code != 200:
                raise ContractViolation(f"stream answered {source.response.status_code}")
            if not source.response.headers["content-type"].startswith("text/event-stream"):
                raise ContractViolation(f"stream content-type {source.response.headers['content-type']}")
            yield from source.iter_sse()

    def follow(
        self, request_id: str, stop_at: Callable[[Frame], bool] | None = None
    ) -> tuple[Stream, Iterator[ServerSentEvent] | None]:
        """Read the stream as an old client does, to its end. With `stop_at`, return as soon as a frame it
        accepts arrived, with the rest of the stream to go on with later (`rest(stream, iterator)`)."""
        stream = Stream()
        iterator = self._events(request_id)
        if self._read(stream, iterator, stop_at):
            return stream, iterator
        return stream, None

    def rest(self, stream: Stream, iterator: Iterator[ServerSentEvent]) -> Stream:
        self._read(stream, iterator, None)
        return stream

    def _read(
        self, stream: Stream, iterator: Iterator[ServerSentEvent], stop_at: Callable[[Frame], bool] | None
    ) -> bool:
        for sse in iterator:
            if stream.counted and stream.counted[-1].event == "complete":
                raise ContractViolation(f"the stream went on after `complete`: {sse.event}")
            frame = _count(stream, sse.event, sse.id, sse.data)
            if stop_at is not None and stop_at(frame):
                return True
        stream.closed_after_complete = bool(stream.counted) and stream.counted[-1].event == "complete"
        return False

    def status(self, request_id: str) -> Status:
        reply = self.http.get(f"/research/{request_id}")
        if reply.status_code != 200:
            raise ContractViolation(f"status answered {reply.status_code}: {reply.text}")
        return Status.model_validate_json(reply.content)

    def poll_clarification(self, request_id: str, attempts: int = 100, interval: float = 0.05) -> PendingClarification:
        """Poll until questions are pending, as the old client does (a bounded number of times here)."""
        for _ in range(attempts):
            reply = self.http.get(f"/research/{request_id}/clarification")
            if reply.status_code == 200:
                try:
                    return PendingClarification.model_validate_json(reply.content)
                except ValidationError as exc:  # the old client would poll for ever without a word
                    raise ContractViolation(f"clarification does not validate: {exc}") from None
            if reply.status_code != 404:
                raise ContractViolation(f"clarification answered {reply.status_code}: {reply.text}")
            time.sleep(interval)
        raise ContractViolation(f"no clarification pending after {attempts} polls")

    def answer(self, request_id: str, clarification_id: str, answers: list[Answer]) -> Resumed:
        body = {"request_id": clarification_id, "answers": [a.model_dump(exclude_none=True) for a in answers]}
        reply = self.http.post(f"/research/{request_id}/clarification", json=body)
        if reply.status_code != 200:
            raise ContractViolation(f"answers answered {reply.status_code}: {reply.text}")
        return Resumed.model_validate_json(reply.content)

    def report(self, request_id: str) -> Report | httpx.Response:
        """The validated report, or the reply when it is not 200 (old clients treat that as not ready)."""
        reply = self.http.get(f"/research/{request_id}/report")
        if reply.status_code != 200:
            return reply
        return Report.model_validate_json(reply.content)

    def markdown(self, request_id: str) -> str:
        reply = self.http.get(f"/research/{request_id}/report", headers={"Accept": "text/markdown"})
        if reply.status_code != 200 or not reply.headers["content-type"].startswith("text/markdown"):
            raise ContractViolation(f"markdown report: {reply.status_code} {reply.headers['content-type']}")
        return reply.text

    def cancel(self, request_id: str) -> Cancelled:
        reply = self.http.delete(f"/research/{request_id}")
        if reply.status_code != 200:
            raise ContractViolation(f"DELETE answered {reply.status_code}: {reply.text}")
        return Cancelled.model_validate_json(reply.content)
