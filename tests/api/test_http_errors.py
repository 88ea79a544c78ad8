"""Bad input gets a 4xx `ErrorResponse` whose `detail` says what to fix; unknown ids are 404, never a stream of
pings; secrets sent with a bad request are not echoed."""

from __future__ import annotations

import httpx
import pytest

from .test_http_lifecycle import submit


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/research/no-such-run"),
        ("GET", "/research/no-such-run/stream"),
        ("GET", "/research/no-such-run/report"),
        ("DELETE", "/research/no-such-run"),
        ("GET", "/research/no-such-run/clarification"),
    ],
)
def test_unknown_id_is_404(client: httpx.Client, method: str, path: str) -> None:
    reply = client.request(method, path)
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"detail": "no research run with id 'no-such-run'", "error": "UnknownRequestError"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": ""}, "query: the research question is empty"),
        ({"query": "   \n "}, "query: the research question is empty"),
        ({"query": "x" * 5001}, "query: the research question has 5001 characters; the limit is 5000"),
        ({}, "query: Field required"),
        ({"query": "Norway?", "max_search_results": 0}, "max_search_results: Input should be greater than or equal"),
        ({"query": "Norway?", "engine": "gpt-9"}, "unknown engine 'gpt-9'; available: "),
        ({"query": "Norway?", "stream": "sometimes"}, "stream: Input should be a valid boolean"),
    ],
)
def test_bad_research_requests_are_422_with_a_readable_message(
    client: httpx.Client, body: dict[str, object], expected: str
) -> None:
    reply = client.post("/research", json=body)
    assert reply.status_code == 422
    assert expected in reply.json()["detail"]


def test_malformed_json_is_422(client: httpx.Client) -> None:
    reply = client.post("/research", content=b'{"query": ', headers={"content-type": "application/json"})
    assert reply.status_code == 422 and "JSON decode error" in reply.json()["detail"]


def test_keys_in_a_bad_request_are_not_echoed(client: httpx.Client) -> None:
    secret = "sk-live-do-not-echo-1234"
    reply = client.post(
        "/research", json={"query": "", "api_keys": {"openai": secret, "mystery": secret}, "max_hops": 99}
    )
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert "api_keys.mystery: Extra inputs are not permitted" in detail and "max_hops" in detail
    assert secret not in reply.text


def test_headers_are_checked(client: httpx.Client) -> None:
    reply = client.post("/research", json={"query": "Norway?"}, headers={"X-User-ID": "u" * 500})
    assert reply.status_code == 422 and "x-user-id" in reply.json()["detail"]
    rid = submit(client, "How does Norway's economy work?")
    bad_resume = client.get(f"/research/{rid}/stream", headers={"Last-Event-ID": "yesterday"})
    assert bad_resume.status_code == 422 and "last-event-id" in bad_resume.json()["detail"]


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert client.get("/nowhere").json() == {"detail": "Not Found", "error": "HTTPException"}
    reply = client.put("/research")
    assert reply.status_code == 405 and reply.json()["detail"] == "Method Not Allowed"


def test_health(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and "scripted" in body["engines"] and body["active_runs"] >= 0
