"""A live server per module (and one with a token), and clients for it."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from .live_server import LiveServer

TOKEN = "test-token-6f1c"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer()
    yield live
    live.stop(signal.SIGINT)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        yield http


@pytest.fixture(scope="module")
def token_server() -> Iterator[LiveServer]:
    live = LiveServer(env={"RESEARCH_NB_API_TOKEN": TOKEN})
    yield live
    live.stop(signal.SIGINT)
