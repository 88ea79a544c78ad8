"""The whole lifecycle on the default offline engine (the bundled corpus, no keys): the report a seed client
reads, and the clarifying questions it asks for a question too vague to research."""

from __future__ import annotations

import httpx

from research_nb.models.research import PIPELINE

from .contract import check_story, open_stream, read_until

QUESTION = "How do the economies of Norway and Sweden differ?"


def test_offline_research_over_http(client: httpx.Client) -> None:
    reply = client.post("/research", json={"query": QUESTION})  # no engine named: the offline default
    assert reply.status_code == 202
    rid = reply.json()["request_id"]
    with open_stream(client, rid) as frames:
        story = check_story(list(frames))
    assert [f.data["stage"] for f in story if f.event == "stage"] == [stage.name for stage in PIPELINE]
    assert any(f.event == "source_found" for f in story)
    assert story[-1].data["success"] is True

    report = client.get(f"/research/{rid}/report").json()
    assert report["metadata"]["engine"] == "offline" and report["references"]
    # the contract's fixes: both conclusion fields filled, and a methodology that says what was done
    assert report["conclusion"] and report["conclusions"]
    assert "search" in report["methodology"].lower()
    cited = {c["number"] for section in report["sections"] for c in section["cited"]}
    assert cited and cited <= {r["number"] for r in report["reference_details"]}
    markdown = client.get(f"/research/{rid}/report", headers={"Accept": "text/markdown"}).text
    assert markdown.startswith("# ") and "Norway" in markdown and "Sweden" in markdown and "[1]" in markdown


def test_offline_engine_asks_about_a_vague_question(client: httpx.Client) -> None:
    rid = client.post("/research", json={"query": "economy"}).json()["request_id"]
    with open_stream(client, rid) as frames:
        paused = read_until(frames, lambda f: f.event == "run_paused")
        pending = client.get(f"/research/{rid}/clarification").json()["clarification_request"]
        questions = {q["id"]: q for q in pending["questions"]}
        assert questions["aspect"]["question_type"] == "choice"
        answers = {
            "request_id": pending["id"],
            "answers": [
                {"question_id": "focus", "text": "Norway"},
                {"question_id": "aspect", "selection": {"id": questions["aspect"]["choices"][0]["id"]}},
            ],
        }
        assert client.post(f"/research/{rid}/clarification", json=answers).status_code == 200
        story = check_story(paused + list(frames))
    assert story[-1].data["success"] is True
    report = client.get(f"/research/{rid}/report", params={"format": "markdown"}).text
    assert "Norway" in report
