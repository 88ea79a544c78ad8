"""Limits on request bodies, enforced before a handler (or FastAPI's JSON parser) sees them: a size cap, and a
deadline for the whole body to arrive.

Every body this API takes is small (a question of at most 5,000 characters and a few options, or answers to a
few questions); a huge one is a mistake or an attack, and parsing it would hold the event loop. A declared
`Content-Length` above the cap is refused at once; a body without one (chunked) is counted as it arrives. A
body that trickles in, or stops arriving, is cut off at the deadline (408): uvicorn's graceful shutdown waits
for every request in flight, so one stalled upload would otherwise keep the server from ever stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from research_nb.api.errors import error_response
from research_nb.api.settings import ServerSettings

#: Far above any valid request (5,000 characters JSON-escaped are at most 60 KB; 100 source paths 400 KB).
MAX_BODY_BYTES = 1024 * 1024


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit // 1024} KiB: send a shorter question and fewer options"


class BodyLimits:
    """ASGI middleware: 413 for a body over `limit` bytes, 408 for one that takes longer than the server's
    `body_timeout_seconds` to arrive."""

    def __init__(self, app: ASGIApp, settings: Callable[[], ServerSettings], limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.settings = settings
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(413, _too_large(self.limit), "RequestTooLarge")(scope, receive, send)
            return
        timeout = self.settings().body_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        received = 0
        complete = False

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # after the body, `receive` only waits for the client to disconnect (streams do)
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"the request body did not arrive within {timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.limit:
                    # FastAPI lets an HTTPException from reading the body through to the error handlers
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, limited, send)
