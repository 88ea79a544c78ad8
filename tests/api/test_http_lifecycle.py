"""The full lifecycle over HTTP: submit, stream to completion, status, report; late and reconnecting subscribers."""

from __future__ import annotations

import re

import httpx

from research_nb.models.research import PIPELINE

from .contract import check_story, open_stream, read_until, without_pings
from .http_engine import ENGINE_NAME

QUESTION = "How do the economies of Norway and Sweden differ? [warn]"


def submit(client: httpx.Client, query: str, **options: object) -> str:
    response = client.post("/research", json={"query": query, "engine": ENGINE_NAME, **options})
    assert response.status_code == 202, response.text
    body = response.json()
    rid = body["request_id"]
    assert body["status"] == "accepted"
    assert body["report_url"] == f"/research/{rid}/report"
    assert body["stream_url"] == (f"/research/{rid}/stream" if options.get("stream", True) else None)
    return str(rid)


def test_submit_stream_status_and_report(client: httpx.Client) -> None:
    rid = submit(client, QUESTION)
    with open_stream(client, rid) as frames:
        story = check_story(list(frames))  # every frame checked; the iteration ends because the server closed

    updates = [f for f in story if f.event == "update"]
    assert {f.data["stage"] for f in updates} >= {stage.name for stage in PIPELINE}
    assert any(f.data.get("level") == "warning" and "could not be read" in f.data["content"] for f in updates)
    finished = [f.data["stage"] for f in story if f.event == "stage"]
    assert finished == [stage.name for stage in PIPELINE]
    assert all(f.data["success"] for f in story if f.event == "stage")
    assert {f.event for f in story} >= {"sub_question", "source_found", "usage"}

    complete = story[-1].data
    assert complete["success"] is True and complete["has_report"] is True
    assert complete["report"]["title"] == QUESTION
    assert [f.event for f in story[:2]] == ["update", "update"]  # the opening line, in the first stage
    assert {story[0].data["stage"], story[1].data["stage"]} == {"CLARIFICATION"}

    status = client.get(f"/research/{rid}").json()
    assert status["status"] == "completed" and status["stage"] == "completed" and status["error"] is None
    assert status["report"] == complete["report"]

    report = client.get(f"/research/{rid}/report")
    assert report.status_code == 200 and report.headers["content-type"] == "application/json"
    body = report.json()
    for field in ("title", "executive_summary", "methodology", "sections", "conclusion", "conclusions", "references"):
        assert field in body
    assert body["metadata"]["created_at"] and isinstance(body["metadata"]["source_summary"], list)
    cited = {c["number"] for s in body["sections"] for c in s["cited"]}
    assert cited == {r["number"] for r in body["reference_details"]} and cited
    assert body["references"] == [f"[{r['number']}] {r['title']}" for r in body["reference_details"]]

    markdown = client.get(f"/research/{rid}/report", headers={"Accept": "text/markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text == body["markdown"] and markdown.text.startswith(f"# {QUESTION}")
    assert client.get(f"/research/{rid}/report", params={"format": "markdown"}).text == markdown.text


def test_wire_format_of_frames(client: httpx.Client) -> None:
    """Old clients parse the raw text: `id`, `event`, `data` lines in that order, frames split by a blank line."""
    rid = submit(client, QUESTION)
    with open_stream(client, rid) as frames:
        list(frames)
    raw = client.get(f"/research/{rid}/stream").text  # the run is over: replays and closes
    blocks = [b for b in raw.split("\n\n") if b]
    assert len(blocks) > 10
    for block in blocks:
        # a run event has its number; the connection (and heartbeat) frames have none, never an `id: 0`
        numbered = re.fullmatch(r"id: [1-9]\d*\nevent: [a-z_]+\ndata: \{.*\}", block)
        assert numbered or re.fullmatch(r"event: (connection|ping)\ndata: \{.*\}", block), block


def test_late_subscriber_gets_the_same_story(client: httpx.Client) -> None:
    rid = submit(client, QUESTION)
    with open_stream(client, rid) as frames:
        live = check_story(list(frames))
    with open_stream(client, rid) as frames:
        replay = check_story(list(frames))
    assert [(f.event, f.id, f.data) for f in replay] == [(f.event, f.id, f.data) for f in live]


def test_reconnect_with_last_event_id_resumes_after_it(client: httpx.Client) -> None:
    rid = submit(client, QUESTION)
    with open_stream(client, rid) as frames:
        story = check_story(list(frames))
    with open_stream(client, rid, headers={"Last-Event-ID": "5"}) as frames:
        rest = without_pings(list(frames))
    assert rest[0].event == "connection"
    assert [f.id for f in rest[1:]] == [f.id for f in story if f.id > 5]


def test_status_shows_the_stage_the_run_is_in_now(client: httpx.Client) -> None:
    rid = submit(client, "How does Norway's economy work? [hold]")
    with open_stream(client, rid) as frames:
        read_until(frames, lambda f: f.event == "update" and f.data["content"] == "holding until cancelled")
        status = client.get(f"/research/{rid}").json()
        assert status["status"] == "processing" and status["stage"] == "research_execution"
        assert client.get(f"/research/{rid}/report").status_code == 409
        client.delete(f"/research/{rid}")


def test_a_run_that_fails_says_why(client: httpx.Client) -> None:
    rid = submit(client, "How does Sweden's economy work? [fail]")
    with open_stream(client, rid) as frames:
        story = check_story(list(frames))
    error = next(f.data for f in story if f.event == "error")
    assert error["stage"] == "FAILED" and error["failed_stage"] == "RESEARCH_EXECUTION"
    assert "corpus file is unreadable" in error["message"] and error["error_type"] == "OSError"
    complete = story[-1].data
    assert complete["success"] is False and complete["status"] == "failed"
    status = client.get(f"/research/{rid}").json()
    assert status["status"] == "failed" and "corpus file is unreadable" in status["error"]
    partial = client.get(f"/research/{rid}/report").json()  # what it gathered before failing
    assert partial["metadata"]["partial"] is True and partial["references"]


def test_without_streaming_the_run_still_completes(client: httpx.Client) -> None:
    rid = submit(client, QUESTION, stream=False)
    with open_stream(client, rid) as frames:  # a client may follow it anyway
        assert check_story(list(frames))[-1].data["success"] is True
