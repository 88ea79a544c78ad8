"""A cap on request bodies, enforced before a handler (or FastAPI's JSON parser) sees one byte too many.

Every body this API takes is small (a question of at most 5,000 characters and a few options, or answers to a
few questions); a huge one is a mistake or an attack, and parsing it would hold the event loop. A declared
`Content-Length` above the cap is refused at once; a body without one (chunked) is counted as it arrives.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from research_nb.api.errors import error_response

#: Far above any valid request (5,000 characters JSON-escaped are at most 60 KB; 100 source paths 400 KB).
MAX_BODY_BYTES = 1024 * 1024


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit // 1024} KiB: send a shorter question and fewer options"


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(413, _too_large(self.limit), "RequestTooLarge")(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI lets an HTTPException from reading the body through to the error handlers
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counted, send)
