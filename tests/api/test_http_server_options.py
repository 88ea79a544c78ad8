"""Options that reach into the server (its files, its environment) are refused from remote clients."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .live_server import LiveServer
from .test_http_lifecycle import open_stream, submit

FACTS = "# Tide mills\n\nA tide mill stores sea water at high tide and grinds grain as it flows out.\n"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"base_url": "http://attacker.example/v1", "engine": "offline"}, "base_url"),
        ({"api_key_env": "AWS_SECRET_ACCESS_KEY"}, "api_key_env"),
        ({"sources": ["/etc"]}, "sources"),
        ({"replay_from": "/etc/passwd"}, "replay_from"),
        ({"record_to": "/tmp/anything.json"}, "record_to"),
    ],
)
def test_server_side_options_are_refused(client: httpx.Client, extra: dict[str, object], named: str) -> None:
    reply = client.post("/research", json={"query": "How do tide mills work?", **extra})
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert named in detail and ("over HTTP" in detail or "does not allow" in detail)
    assert client.get("/health").json()["active_runs"] == 0


@pytest.fixture(scope="module")
def path_server() -> Iterator[LiveServer]:
    live = LiveServer(env={"RESEARCH_NB_API_ALLOW_SERVER_PATHS": "1"})
    yield live
    live.stop(signal.SIGINT)


def test_a_server_may_allow_its_files_to_be_researched(path_server: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "tide-mills.md").write_text(FACTS)
    with httpx.Client(base_url=path_server.url, timeout=20) as http:
        assert http.post("/research", json={"query": "Tide mills?", "api_key_env": "HOME"}).status_code == 422
        rid = submit(http, "How do tide mills grind grain?", sources=[str(tmp_path)], engine="offline")
        with open_stream(http, rid) as frames:
            assert list(frames)[-1].event == "complete"
        report = http.get(f"/research/{rid}/report", headers={"accept": "text/markdown"})
        assert report.status_code == 200 and "grinds grain" in report.text
