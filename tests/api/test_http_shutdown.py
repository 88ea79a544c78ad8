"""Ctrl+C (or SIGTERM) with runs in flight: the server cancels them all, an open stream gets the run's final
`complete` frame (cancelled), and the process exits cleanly."""

from __future__ import annotations

import signal

import httpx
import pytest

from .contract import Frame, check_story, open_stream, read_until
from .http_engine import HOLDING
from .live_server import LiveServer
from .test_http_lifecycle import submit

#: What uvicorn does after its graceful shutdown: SIGINT ends with 0, SIGTERM is re-raised (the convention).
EXIT_CODES = {signal.SIGINT: 0, signal.SIGTERM: -signal.SIGTERM}


def holding(frame: Frame) -> bool:
    return frame.event == "update" and frame.data["content"] == HOLDING


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_shutdown_cancels_runs_in_flight(sig: signal.Signals) -> None:
    server = LiveServer()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            unwatched = submit(client, "How does Sweden's economy work? [hold]")
            with open_stream(client, unwatched) as frames:  # wait until it holds, then stop watching
                read_until(frames, holding)
            waiting = submit(client, "Tell me about economies [ask]")
            with open_stream(client, waiting) as frames:
                read_until(frames, lambda f: f.event == "run_paused")

            watched = submit(client, "How does Norway's economy work? [hold]")
            with open_stream(client, watched) as frames:
                seen = read_until(frames, holding)
                server.process.send_signal(sig)
                rest = list(frames)  # ends when the server closes the stream after `complete`
        complete = check_story(seen + rest)[-1].data
        assert complete["status"] == "cancelled" and complete["error"] == "Cancelled by shutdown"
        assert complete["has_report"] is True and complete["report"]["metadata"]["partial"] is True

        assert server.wait() == EXIT_CODES[sig]
        log = server.log
        assert f"server shutting down: cancelling streamed research {watched}" in log
        assert "research-nb API stopped: 1 running and 1 waiting research runs cancelled" in log
        assert "Application shutdown complete" in log
        assert "Traceback" not in log
    finally:
        server.stop(signal.SIGKILL)
