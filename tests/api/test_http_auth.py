"""With `RESEARCH_NB_API_TOKEN` set, every endpoint but /health wants `Authorization: Bearer <token>`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import TOKEN
from .contract import check_story, open_stream
from .http_engine import ENGINE_NAME
from .live_server import LiveServer

ENDPOINTS = [
    ("POST", "/research"),
    ("GET", "/research/some-id"),
    ("GET", "/research/some-id/stream"),
    ("GET", "/research/some-id/report"),
    ("DELETE", "/research/some-id"),
    ("GET", "/research/some-id/clarification"),
    ("POST", "/research/some-id/clarification"),
]


@pytest.fixture
def anonymous(token_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=token_server.url, timeout=20) as http:
        yield http


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_rejected_without_the_token(anonymous: httpx.Client, method: str, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = anonymous.request(method, path, headers=headers, json={"query": "Norway?"})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert "RESEARCH_NB_API_TOKEN" in reply.json()["detail"]
    assert TOKEN not in reply.text


def test_health_is_open(anonymous: httpx.Client) -> None:
    assert anonymous.get("/health").status_code == 200


def test_accepted_with_the_token(token_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=token_server.url, timeout=20, headers=headers) as client:
        reply = client.post("/research", json={"query": "How does Norway's economy work?", "engine": ENGINE_NAME})
        assert reply.status_code == 202
        rid = reply.json()["request_id"]
        with open_stream(client, rid) as frames:
            assert check_story(list(frames))[-1].data["success"] is True
        assert client.get(f"/research/{rid}/report").status_code == 200
    assert TOKEN not in token_server.log
