"""DELETE really cancels: the running task stops, the stream gets its final frame, a partial report is kept, and
a finished run is never rewritten as cancelled."""

from __future__ import annotations

import httpx

from .contract import check_story, open_stream, read_until
from .http_engine import ENGINE_NAME, HOLDING
from .test_http_lifecycle import QUESTION, submit


def test_cancel_mid_run(client: httpx.Client) -> None:
    rid = submit(client, "How do the economies of Norway and Sweden differ? [hold]")
    with open_stream(client, rid) as frames:
        seen = read_until(frames, lambda f: f.event == "update" and f.data["content"] == HOLDING)
        reply = client.delete(f"/research/{rid}")
        assert reply.status_code == 200
        assert reply.json() == {
            "request_id": rid,
            "status": "cancelled",
            "message": f"research {rid} cancelled",
            "task_cancelled": True,
        }
        rest = list(frames)
    story = check_story(seen + rest)
    complete = story[-1].data
    assert complete["success"] is False and complete["status"] == "cancelled"
    assert complete["error"] == "Cancelled by user" and complete["has_report"] is True
    stopped = [f.data for f in story if f.event == "stage" and not f.data["success"]]
    assert [s["stage"] for s in stopped] == ["RESEARCH_EXECUTION"]

    status = client.get(f"/research/{rid}").json()
    assert status["status"] == "cancelled" and status["stage"] == "cancelled" and status["error"] == "Cancelled by user"
    partial = client.get(f"/research/{rid}/report").json()
    assert partial["metadata"]["partial"] is True and partial["references"]

    again = client.delete(f"/research/{rid}").json()
    assert again["status"] == "cancelled" and again["task_cancelled"] is False


def test_cancel_right_after_submitting(client: httpx.Client) -> None:
    """No gap between POST and DELETE: the run still ends cancelled, with its final event."""
    rid = submit(client, "How does Norway's economy work? [hold]")
    assert client.delete(f"/research/{rid}").json()["status"] == "cancelled"
    with open_stream(client, rid) as frames:
        assert check_story(list(frames))[-1].data["status"] == "cancelled"


def test_a_finished_run_is_not_rewritten_as_cancelled(client: httpx.Client) -> None:
    rid = submit(client, QUESTION)
    with open_stream(client, rid) as frames:
        list(frames)
    reply = client.delete(f"/research/{rid}").json()
    assert reply["status"] == "completed" and reply["task_cancelled"] is False
    assert "nothing to cancel" in reply["message"]
    assert client.get(f"/research/{rid}").json()["status"] == "completed"


def test_other_runs_go_on_when_one_is_cancelled(client: httpx.Client) -> None:
    held = submit(client, "How does Sweden's economy work? [hold]")
    other = client.post("/research", json={"query": QUESTION, "engine": ENGINE_NAME}).json()["request_id"]
    assert client.delete(f"/research/{held}").json()["task_cancelled"] is True
    with open_stream(client, other) as frames:
        assert check_story(list(frames))[-1].data["success"] is True
