"""The one HTTP stack of the web providers (httpx2, which pydantic-ai and the model SDKs use too) and the
transports that sit under it:

- `LocalOnlyTransport` refuses every request to a host that is not this machine (strict local-only mode), before
  anything is sent;
- `RecordingTransport` passes requests on and writes each answer to a cassette; `ReplayTransport` answers from a
  cassette and never touches the network.

Cassette keys are digests of the method, the URL and the body: request headers (where keys travel) are never
recorded.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable

import httpx2

from research_nb.core.cassette import Cassette
from research_nb.core.errors import RunFailure
from research_nb.core.retry import TRANSIENT_STATUSES, Transient

USER_AGENT = "research-nb/0.1 (deep research from Jupyter; https://pypi.org/project/research-nb/)"
TIMEOUT = httpx2.Timeout(30.0, connect=10.0)


class LocalOnlyViolation(RunFailure):
    """Something tried to reach another machine during a strictly local run."""


class HTTPStatusFailure(RunFailure):
    """A web service answered with an error status."""

    def __init__(self, service: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"{service} answered HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def is_local_host(host: str) -> bool:
    """True for this machine: `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalOnlyTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not is_local_host(request.url.host):
            raise LocalOnlyViolation(
                f"local-only mode: refused a request to {request.url.host} (nothing may leave this machine)"
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def exchange_key(request: httpx2.Request, body: bytes) -> str:
    """What decides the answer to a request: method, URL with its query in a fixed order, body."""
    url = request.url.copy_with(query=None)
    query = sorted(request.url.params.multi_items())
    digest = hashlib.sha256()
    for part in (request.method, str(url), repr(query)):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(body)
    return digest.hexdigest()[:32]


class RecordingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, cassette: Cassette) -> None:
        self._inner = inner
        self._cassette = cassette

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        content_type = response.headers.get("content-type", "")
        self._cassette.add_http(
            exchange_key(request, body), request.method, str(request.url), response.status_code, content_type, content
        )
        return httpx2.Response(
            response.status_code, headers={"content-type": content_type}, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReplayTransport(httpx2.AsyncBaseTransport):
    def __init__(self, cassette: Cassette) -> None:
        self._cassette = cassette

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        found = self._cassette.next_http(exchange_key(request, body), request.method, str(request.url))
        return httpx2.Response(
            found.status, headers={"content-type": found.content_type}, content=found.content(), request=request
        )


TransportFactory = Callable[[], httpx2.AsyncBaseTransport]


def web_client(
    *, cassette: Cassette | None = None, local_only: bool = False, transport: TransportFactory | None = None
) -> httpx2.AsyncClient:
    """The client every web provider of a run shares. `transport` replaces the network (tests use a
    `httpx2.MockTransport`); a replayed cassette replaces it too; local-only mode guards whatever is below."""
    base: httpx2.AsyncBaseTransport
    if cassette is not None and cassette.mode == "replay":
        base = ReplayTransport(cassette)
    else:
        base = transport() if transport is not None else httpx2.AsyncHTTPTransport(retries=1)
        if cassette is not None:
            base = RecordingTransport(base, cassette)
    if local_only:
        base = LocalOnlyTransport(base)
    return httpx2.AsyncClient(
        transport=base, timeout=TIMEOUT, headers={"user-agent": USER_AGENT}, follow_redirects=True
    )


def classify_http(error: BaseException) -> Transient | None:
    """Which web failures are worth another try: rate limits, server errors, dropped connections, timeouts."""
    if isinstance(error, HTTPStatusFailure) and error.status in TRANSIENT_STATUSES:
        return Transient(str(error), error.retry_after)
    if isinstance(error, httpx2.TransportError) and not isinstance(error, httpx2.UnsupportedProtocol):
        return Transient(f"{type(error).__name__}: {error}")
    return None


def check_status(service: str, response: httpx2.Response) -> None:
    if response.status_code >= 400:
        raise HTTPStatusFailure(service, response.status_code, _retry_after(response))


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None
