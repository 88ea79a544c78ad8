"""Clarification round trip: the run pauses with its questions, a late subscriber sees them replayed, answers
are checked, and the resumed run is a task like any other that finishes on the same stream."""

from __future__ import annotations

import httpx

from .contract import check_story, open_stream, read_until
from .test_http_lifecycle import submit

VAGUE = "Tell me about economies [ask]"


def pause(client: httpx.Client) -> tuple[str, str]:
    """Submit a question the engine asks about; return the run id and the clarification id once it waits."""
    rid = submit(client, VAGUE)
    with open_stream(client, rid) as frames:  # a late subscriber: the questions may already be asked
        seen = read_until(frames, lambda f: f.event == "run_paused")
    asked = next(f.data for f in seen if f.event == "clarification")
    assert asked["clarification_url"] == f"/research/{rid}/clarification"
    return rid, str(asked["clarification"]["id"])


def test_round_trip(client: httpx.Client) -> None:
    rid, clarification_id = pause(client)
    status = client.get(f"/research/{rid}").json()
    assert status["status"] == "processing" and status["stage"] == "clarification"
    assert status["awaiting_clarification"] is True

    pending = client.get(f"/research/{rid}/clarification")
    assert pending.status_code == 200
    body = pending.json()
    assert body["request_id"] == rid and body["state"] == "awaiting_clarification"
    assert body["awaiting_response"] is True and body["original_query"] == VAGUE
    request = body["clarification_request"]
    assert request["id"] == clarification_id and request["created_at"]
    by_id = {q["id"]: q for q in request["questions"]}
    assert by_id["focus"]["question_type"] == "text" and by_id["focus"]["is_required"] is True
    assert by_id["aspect"]["question_type"] == "choice"
    assert {c["id"]: c["requires_details"] for c in by_id["aspect"]["choices"]} == {"economy": False, "other": True}
    assert by_id["extras"]["question_type"] == "multi_choice"
    assert set(by_id["aspect"]["choices"][1]) == {"id", "label", "requires_details", "is_other", "details_prompt"}

    with open_stream(client, rid) as frames:
        before = read_until(frames, lambda f: f.event == "run_paused")
        answers = {
            "request_id": clarification_id,
            "answers": [
                {"question_id": "focus", "text": "Norway"},
                {"question_id": "aspect", "selection": {"id": "other", "details": "oil fund"}},
                {"question_id": "extras", "selections": [{"id": "climate"}, {"id": "trade"}]},
            ],
        }
        resumed = client.post(f"/research/{rid}/clarification", json=answers)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json() == {
            "request_id": rid,
            "status": "resumed",
            "message": f"Answers accepted; research {rid} resumed",
            "current_stage": "clarification",
        }
        after = list(frames)  # the same stream goes on to the end of the resumed run
    story = check_story(before + after)
    assert story[-1].data["success"] is True
    resumed_start = next(f for f in after if f.event == "update" and "resumed" in f.data["content"])
    assert resumed_start.data["resumed"] is True

    report = client.get(f"/research/{rid}/report").json()
    assert "Norway; something else oil fund; climate; trade" in report["introduction"]
    assert client.get(f"/research/{rid}/clarification").status_code == 404
    again = client.post(f"/research/{rid}/clarification", json=answers)
    assert again.status_code == 409 and "not waiting for clarification" in again.json()["detail"]


def test_answers_that_do_not_fit_are_listed(client: httpx.Client) -> None:
    rid, clarification_id = pause(client)
    wrong = {
        "request_id": clarification_id,
        "answers": [
            {"question_id": "aspect", "selection": {"id": "other"}},
            {"question_id": "extras", "selections": [{"id": "sports"}]},
            {"question_id": "mood", "text": "fine"},
        ],
    }
    reply = client.post(f"/research/{rid}/clarification", json=wrong)
    assert reply.status_code == 400
    problems = reply.json()["detail"]
    assert problems == [
        "choice 'other' of question 'aspect' needs details",
        "question 'extras' has no choice 'sports'",
        "unknown question id 'mood'",
        "question 'focus' is required: Which country should the research focus on?",
    ]
    assert client.get(f"/research/{rid}/clarification").status_code == 200  # still waiting, nothing lost
    stale = client.post(f"/research/{rid}/clarification", json={"request_id": "old", "answers": []})
    assert stale.status_code == 400 and any("'old'" in p for p in stale.json()["detail"])
    client.delete(f"/research/{rid}")


def test_heartbeats_keep_a_waiting_stream_alive(client: httpx.Client) -> None:
    rid, _ = pause(client)
    with open_stream(client, rid) as frames:
        read_until(frames, lambda f: f.event == "run_paused")
        ping = read_until(frames, lambda f: f.event == "ping")[-1]  # the test server beats every 0.5 s
        assert ping.data == {"type": "heartbeat", "request_id": rid}
        client.delete(f"/research/{rid}")
        rest = list(frames)
    assert rest[-1].event == "complete" and rest[-1].data["status"] == "cancelled"


def test_cancelling_a_waiting_run(client: httpx.Client) -> None:
    rid, _ = pause(client)
    reply = client.delete(f"/research/{rid}").json()
    assert reply["status"] == "cancelled" and reply["task_cancelled"] is False
    assert client.get(f"/research/{rid}/clarification").status_code == 404
    with open_stream(client, rid) as frames:
        assert check_story(list(frames))[-1].data["status"] == "cancelled"


def test_nothing_to_clarify(client: httpx.Client) -> None:
    rid = submit(client, "How does Norway's economy work?")
    with open_stream(client, rid) as frames:
        list(frames)
    missing = client.get(f"/research/{rid}/clarification")
    assert missing.status_code == 404 and "no clarifying questions" in missing.json()["detail"]
    assert client.get("/research/unknown-id/clarification").status_code == 404
    answer = {"request_id": "x", "answers": []}
    assert client.post("/research/unknown-id/clarification", json=answer).status_code == 404
