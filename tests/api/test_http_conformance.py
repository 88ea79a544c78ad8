"""Conformance: the old system's client (tests/api/old_client.py, written from the wire contract alone) walks
the whole flow against a real uvicorn — POST, stream, clarification poll and answer, report, cancel — and every
reply, report and clarification it receives validates against its own models.

Runs: a normal one on the offline engine, a clarification, a cancel in each stage, failed runs, the longest
valid question, and late subscribers (one after the run ended, one after the server forgot its events).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from .http_engine import ENGINE_NAME, HOLDING
from .live_server import LiveServer
from .old_client import (
    OLD_STAGES,
    Answer,
    Frame,
    OldClient,
    PendingClarification,
    Report,
    Selection,
    Stream,
    report_in,
)

QUESTION = "How do the economies of Norway and Sweden differ?"
#: The stages a run can be cancelled in, each held by the scripted engine until the DELETE.
STAGES = ["clarification", "brief_generation", "research_execution", "compression", "report_generation"]
#: Stages that end before anything is gathered: a run cancelled or failed in them has no report.
BEFORE_GATHERING = {"clarification", "brief_generation"}
_REFERENCE = re.compile(r"\[\d+\] \S.*")


@pytest.fixture
def old(server: LiveServer) -> Iterator[OldClient]:
    client = OldClient(server.url)
    yield client
    client.close()


def walk(old: OldClient, query: str, **options: object) -> tuple[str, Stream]:
    """POST, then follow the stream to its end, as the old client does."""
    accepted = old.submit(query, **options)
    assert accepted.stream_url == f"/research/{accepted.request_id}/stream"
    assert accepted.report_url == f"/research/{accepted.request_id}/report"
    stream, _ = old.follow(accepted.request_id)
    return accepted.request_id, stream


def check_stream(stream: Stream, *, success: bool) -> None:
    """The old client's view of a whole stream: it starts with `connection`, every update is in an old stage,
    and the server closed the stream right after `complete`."""
    assert stream.counted[0].event == "connection"
    assert stream.closed_after_complete
    assert stream.complete.data["success"] is success
    updates = stream.of("update")
    assert updates and all(u.data["stage"] in OLD_STAGES - {"PENDING"} for u in updates)
    numbered = [int(f.id) for f in stream.seen if f.event not in ("connection", "ping")]
    assert numbered == sorted(numbered) and min(numbered) >= 1


def check_report(report: Report, *, partial: bool) -> None:
    """What old clients show of a report, beyond its types (which validated already)."""
    assert report.title and report.methodology and report.sections and report.references
    assert all(_REFERENCE.fullmatch(r) for r in report.references), report.references
    assert all(_REFERENCE.fullmatch(c) for s in report.sections for c in s.citations)
    assert report.conclusion and report.conclusions
    assert all({"id", "title"} <= s.keys() for s in report.metadata.source_summary)
    assert ("partial" in (report.title + report.executive_summary).lower()) is partial


def holding(frame: Frame) -> bool:
    return frame.event == "update" and frame.data["content"] == HOLDING


def answers_to(pending: PendingClarification, focus: str) -> list[Answer]:
    """Answer every question: text with `focus`, a choice with its first plain option."""
    answers = []
    for question in pending.clarification_request.questions:
        if question.question_type == "text":
            answers.append(Answer(question_id=question.id, text=focus))
        else:
            plain = next(c for c in question.choices or [] if not c.requires_details)
            answers.append(Answer(question_id=question.id, selection=Selection(id=plain.id)))
    return answers


def test_a_normal_run(old: OldClient) -> None:
    rid, stream = walk(old, QUESTION)  # the offline engine over the bundled Factbook
    check_stream(stream, success=True)
    assert stream.counted[1].event == "update" and stream.counted[1].data["stage"] == "CLARIFICATION"
    assert [f.data["stage"] for f in stream.of("stage")] == ["CLARIFICATION", "RESEARCH_EXECUTION", "REPORT_GENERATION"]
    assert all(f.data["success"] for f in stream.of("stage"))
    assert stream.complete.data["has_report"] is True

    report = old.report(rid)
    assert isinstance(report, Report)
    check_report(report, partial=False)
    assert report_in(stream.complete) == report
    assert any("Norway" in s.title for s in report.sections) and "search" in report.methodology.lower()
    # the contract's fixes: conclusions that conclude (not a copy of the summary), an introduction that introduces
    assert report.conclusions != report.executive_summary and report.conclusion != report.executive_summary
    assert report.introduction and not report.introduction.startswith("This report answers")
    status = old.status(rid)
    assert (status.status, status.stage, status.error) == ("completed", "completed", None)
    assert status.report == report
    assert old.markdown(rid).startswith(f"# {QUESTION}")
    cancelled = old.cancel(rid)  # a finished run is left as it ended
    assert (cancelled.status, cancelled.task_cancelled) == ("completed", False)


def test_the_scripted_engine_conclusions_reach_the_wire(old: OldClient) -> None:
    rid, stream = walk(old, QUESTION, engine=ENGINE_NAME)
    check_stream(stream, success=True)
    report = old.report(rid)
    assert isinstance(report, Report)
    check_report(report, partial=False)
    assert report.conclusions.startswith("The ") and report.conclusions != report.executive_summary


def test_a_clarification(old: OldClient) -> None:
    accepted = old.submit("economy")  # too vague for the offline engine
    rid = accepted.request_id
    stream, rest = old.follow(rid, stop_at=lambda f: f.event == "ping")  # paused: only heartbeats now
    assert rest is not None
    pending = old.poll_clarification(rid)
    assert pending.request_id == rid and pending.original_query == "economy"
    assert old.status(rid).stage == "clarification"
    resumed = old.answer(rid, pending.clarification_request.id, answers_to(pending, "Norway"))
    assert resumed.status == "resumed" and resumed.request_id == rid
    old.rest(stream, rest)
    check_stream(stream, success=True)
    report = old.report(rid)
    assert isinstance(report, Report)
    check_report(report, partial=False)
    assert "Norway" in report.executive_summary


def test_the_longest_valid_question(old: OldClient) -> None:
    """5,000 characters, one word: the clarifying questions must still fit the old client's limits."""
    word = "economy" + "x" * 4993
    accepted = old.submit(f"  {word}\n")  # the limit counts after stripping
    rid = accepted.request_id
    stream, rest = old.follow(rid, stop_at=lambda f: f.event == "ping")
    assert rest is not None
    pending = old.poll_clarification(rid)  # validates: questions <= 500, contexts <= 1,000 characters
    assert pending.original_query == word
    texts = [q.question for q in pending.clarification_request.questions]
    assert any(t.endswith("…") or "…" in t for t in texts) or all(word not in t for t in texts)
    old.answer(rid, pending.clarification_request.id, answers_to(pending, "Norway"))
    old.rest(stream, rest)
    check_stream(stream, success=True)
    assert all(len(u.data["content"]) < 1000 for u in stream.of("update"))
    report = old.report(rid)
    assert isinstance(report, Report)


def test_one_character_too_long_is_refused(old: OldClient) -> None:
    reply = old.http.post("/research", json={"query": "x" * 5001})
    assert reply.status_code == 422 and "5001 characters; the limit is 5000" in reply.json()["detail"]


@pytest.mark.parametrize("stage", STAGES)
def test_cancel_in_each_stage(old: OldClient, stage: str) -> None:
    accepted = old.submit(f"How does Norway's economy work? [hold:{stage}]", engine=ENGINE_NAME)
    rid = accepted.request_id
    stream, rest = old.follow(rid, stop_at=holding)
    assert rest is not None
    cancelled = old.cancel(rid)
    assert (cancelled.status, cancelled.task_cancelled) == ("cancelled", True)
    old.rest(stream, rest)
    check_stream(stream, success=False)
    assert stream.complete.data["error"] == "Cancelled by user"

    status = old.status(rid)
    assert (status.status, status.stage, status.error) == ("cancelled", "cancelled", "Cancelled by user")
    report = old.report(rid)
    if stage in BEFORE_GATHERING:
        assert isinstance(report, httpx.Response) and report.status_code == 404
        detail = report.json()["detail"]
        assert "cancelled" in detail and "None" not in detail
        assert stream.complete.data["has_report"] is False and status.report is None
    else:
        assert isinstance(report, Report)
        check_report(report, partial=True)
        assert status.report == report


def test_cancel_while_waiting_for_answers(old: OldClient) -> None:
    rid = old.submit("Tell me about economies [ask]", engine=ENGINE_NAME).request_id
    stream, rest = old.follow(rid, stop_at=lambda f: f.event == "ping")
    assert rest is not None
    old.poll_clarification(rid)
    cancelled = old.cancel(rid)
    assert (cancelled.status, cancelled.task_cancelled) == ("cancelled", False)
    old.rest(stream, rest)
    check_stream(stream, success=False)
    report = old.report(rid)
    assert isinstance(report, httpx.Response) and report.status_code == 404 and "cancelled" in report.text


def test_a_failed_run(old: OldClient) -> None:
    rid, stream = walk(old, "How does Sweden's economy work? [fail]", engine=ENGINE_NAME)
    check_stream(stream, success=False)
    (error,) = stream.of("error")
    assert error.data["stage"] == "FAILED" and "corpus file is unreadable" in error.data["message"]
    status = old.status(rid)
    assert status.status == "failed" and status.error is not None and "unreadable" in status.error
    report = old.report(rid)  # what it gathered before it failed
    assert isinstance(report, Report)
    check_report(report, partial=True)
    assert report_in(stream.complete) == report


def test_a_run_that_fails_before_gathering_anything(old: OldClient) -> None:
    rid, stream = walk(old, "How does Sweden's economy work? [fail:brief_generation]", engine=ENGINE_NAME)
    check_stream(stream, success=False)
    assert stream.of("error")[0].data["stage"] == "FAILED"
    report = old.report(rid)
    assert isinstance(report, httpx.Response) and report.status_code == 404
    assert "failed before it gathered anything" in report.json()["detail"]


def test_a_late_subscriber_gets_the_whole_story(old: OldClient) -> None:
    accepted = old.submit(QUESTION, engine=ENGINE_NAME, stream=False)
    assert accepted.stream_url is None
    rid = accepted.request_id
    live, _ = old.follow(rid)  # (the run may have ended already)
    late, _ = old.follow(rid)  # certainly after the end: a replay that closes at once
    check_stream(late, success=True)
    assert [(f.event, f.id, f.data) for f in late.counted[1:]] == [(f.event, f.id, f.data) for f in live.counted[1:]]


def test_a_subscriber_after_the_events_are_gone_is_told_so(old: OldClient) -> None:
    """The server keeps the events of the last 64 finished runs; an older run replays what the store holds."""
    first, story = walk(old, QUESTION, engine=ENGINE_NAME)
    for n in range(65):
        walk(old, f"How does Finland's economy work? ({n})", engine=ENGINE_NAME)
    late, _ = old.follow(first)
    check_stream(late, success=True)
    assert "no longer kept" in late.of("update")[0].data["content"]
    assert [f.data["stage"] for f in late.of("stage")] == [f.data["stage"] for f in story.of("stage")]
    assert [f.id for f in late.seen[1:]] == [str(n) for n in range(1, len(late.seen))]
    assert report_in(late.complete) == report_in(story.complete)
