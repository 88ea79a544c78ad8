"""Limits at the edge: no request can freeze the server or make it answer 500 (issue 13).

Bounded and de-duplicated `corpora`, a cap on `sources`, on the body's size and on the time it takes to arrive,
on ids; damaged stored runs are a one-line 422; a 405 names every method the path serves; a stalled upload
does not keep SIGTERM from stopping the server.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .live_server import LiveServer
from .test_http_lifecycle import submit

ENDPOINTS = [
    ("GET", "/research/{id}"),
    ("GET", "/research/{id}/stream"),
    ("GET", "/research/{id}/report"),
    ("DELETE", "/research/{id}"),
    ("GET", "/research/{id}/clarification"),
    ("POST", "/research/{id}/clarification"),
]


def test_corpora_are_bounded(client: httpx.Client) -> None:
    many = client.post("/research", json={"query": "Norway?", "corpora": [f"corpus{n}" for n in range(9)]})
    assert many.status_code == 422 and "corpora: List should have at most 8 items" in many.json()["detail"]
    # the 36 KB body that once held the server for 35 s: refused by validation, before any corpus is looked at
    began = time.monotonic()
    repeated = client.post("/research", json={"query": "Norway?", "corpora": ["factbook"] * 3000})
    assert repeated.status_code == 422 and "corpora" in repeated.json()["detail"]
    assert time.monotonic() - began < 5
    assert client.get("/health").status_code == 200


def test_a_repeated_corpus_counts_once(client: httpx.Client) -> None:
    searched = []
    for corpora in (["factbook"], ["factbook", "factbook"]):
        rid = submit(client, "How large is the population of Japan?", engine="offline", corpora=corpora, clarify=False)
        with (
            httpx.Client(base_url=str(client.base_url), timeout=60) as slow,
            slow.stream("GET", f"/research/{rid}/stream") as stream,
        ):
            for _ in stream.iter_lines():  # to the end of the run
                pass
        searched.append(
            client.get(f"/research/{rid}/report").json()["metadata"]["citation_audit"]["documents_searched"]
        )
    assert searched[0] == searched[1] > 0


def test_sources_are_bounded(client: httpx.Client) -> None:
    reply = client.post("/research", json={"query": "Norway?", "sources": [f"/tmp/{n}" for n in range(101)]})
    assert reply.status_code == 422 and "sources: List should have at most 100 items" in reply.json()["detail"]


def test_bodies_are_bounded(client: httpx.Client) -> None:
    big = b'{"query": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = client.post("/research", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "larger than 1024 KiB" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    chunked = client.post("/research", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and chunked.json()["error"] == "HTTPException"
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_5000_character_id_is_refused_in_one_line(client: httpx.Client, method: str, path: str) -> None:
    reply = client.request(method, path.format(id="x" * 5000), json={"request_id": "x", "answers": []})
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert "request_id: String should have at most 128 characters" in detail and len(detail) < 200


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("notjson", lambda path: path.write_text("this is not a run")),
        ("notutf8", lambda path: path.write_bytes(b"\xff\xfe{\x00")),
        ("adirectory", lambda path: path.mkdir()),
        ("brokenlink", lambda path: path.symlink_to(path.with_name("nowhere.json"))),
    ],
)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_damaged_stored_run_is_422_never_500(
    server: LiveServer, client: httpx.Client, name: str, damage: object, method: str, path: str
) -> None:
    runs = server.data_dir / "runs"
    runs.mkdir(exist_ok=True)
    stored = runs / f"damaged-{name}.json"
    if not stored.exists() and not stored.is_symlink():
        assert callable(damage)
        damage(stored)
    reply = client.request(method, path.format(id=f"damaged-{name}"), json={"request_id": "x", "answers": []})
    # a broken link is no run at all (404); any other damage is named in one line (422)
    assert reply.status_code == (404 if name == "brokenlink" else 422), reply.text
    assert f"damaged-{name}" in reply.json()["detail"] and "\n" not in reply.json()["detail"]
    assert "Traceback" not in server.log


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/research", "POST"),
        ("PATCH", "/research/some-id", "DELETE, GET"),
        ("PUT", "/research/some-id/clarification", "GET, POST"),
        ("POST", "/health", "GET"),
    ],
)
def test_405_names_every_method_the_path_serves(client: httpx.Client, method: str, path: str, allowed: str) -> None:
    reply = client.request(method, path)
    assert reply.status_code == 405 and reply.headers["allow"] == allowed


def test_a_stalled_upload_does_not_keep_the_server_from_stopping(tmp_path: Path) -> None:
    server = LiveServer(env={"RESEARCH_NB_API_BODY_TIMEOUT_SECONDS": "1"})
    try:
        with socket.create_connection(("127.0.0.1", server.port or 0)) as stalled:
            stalled.sendall(
                b"POST /research HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"query": '
            )
            with httpx.Client(base_url=server.url, timeout=20) as client:
                assert client.get("/health").status_code == 200  # the stalled request holds nothing else up
            began = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert server.wait(timeout=20) == -signal.SIGTERM
            assert time.monotonic() - began < 10
            assert b"408" in stalled.recv(4096)
        assert "Traceback" not in server.log
    finally:
        server.stop(signal.SIGKILL)
