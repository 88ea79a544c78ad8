"""Web search providers: each turns a query into passages with URLs, so citations work as for local files.

- `WikipediaSearch` (no key): the MediaWiki API's full-text search, with the plain-text introductions of the pages;
- `ArxivSearch` (no key): arXiv's Atom API, each paper's abstract;
- `TavilySearch` (key): Tavily's search API; the best pages are fetched and their readable text extracted
  (trafilatura), the others keep Tavily's excerpt.

All share one `httpx2.AsyncClient` (see `_http.web_client`: recording, replay and local-only guard live in its
transport). Rate limits and server errors are retried with backoff; a provider that still fails raises
`WebSearchError` — it never makes up a result.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from typing import Any

import httpx2

from research_nb.core.errors import RunFailure
from research_nb.core.retry import RetryPolicy, retrying
from research_nb.models.research import Passage, Source
from research_nb.sources._http import HTTPStatusFailure, check_status, classify_http
from research_nb.sources._pages import MAX_PAGE_BYTES, readable_text, text_passages, url_document_id

WEB_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=10.0, timeout=40.0)
_ATOM = "{http://www.w3.org/2005/Atom}"

Notify = Callable[[str], None]


class WebSearchError(RunFailure):
    """A web provider failed (after retries) or answered with something that is not a search result."""


class _Provider:
    name = "web"
    attribution: str | None = None

    def __init__(self, client: httpx2.AsyncClient, *, retry: RetryPolicy = WEB_RETRY, notify: Notify | None = None):
        self._client = client
        self._retry = retry
        self._notify = notify or (lambda _: None)

    def source(self, passage: Passage) -> Source:
        """The document a passage of this provider comes from."""
        return Source(
            id=passage.document_id, title=passage.title, url=passage.url, origin=self.name, attribution=self.attribution
        )

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx2.Response:
        async def attempt() -> httpx2.Response:
            response = await self._client.request(method, url, **kwargs)
            check_status(self.name, response)
            return response

        try:
            return await retrying(attempt, self._retry, classify_http, lambda m: self._notify(f"{self.name}: {m}"))
        except HTTPStatusFailure as exc:
            raise WebSearchError(f"{exc}{_status_hint(self.name, exc.status)}") from None
        except httpx2.HTTPError as exc:
            raise WebSearchError(f"{self.name} could not be reached: {type(exc).__name__}: {exc}") from None


class WikipediaSearch(_Provider):
    name = "wikipedia"
    attribution = "Text from Wikipedia, available under CC BY-SA 4.0"

    def __init__(self, client: httpx2.AsyncClient, *, language: str = "en", **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._endpoint = f"https://{language}.wikipedia.org/w/api.php"

    async def search(self, query: str, k: int) -> list[Passage]:
        params = {
            "action": "query",
            "format": "json",
            "formatversion": "2",
            "generator": "search",
            "gsrsearch": query,
            "gsrlimit": str(min(k, 10)),
            "prop": "extracts|info",
            "exintro": "1",
            "explaintext": "1",
            "exlimit": "max",
            "inprop": "url",
            "redirects": "1",
        }
        response = await self._request("GET", self._endpoint, params=params)
        try:
            payload = response.json()
            pages = payload.get("query", {}).get("pages", []) if isinstance(payload, dict) else []
        except ValueError:
            raise WebSearchError("wikipedia answered with something that is not JSON") from None
        if isinstance(payload, dict) and "error" in payload:
            raise WebSearchError(f"wikipedia refused the search: {payload['error'].get('info', 'unknown error')}")
        passages: list[Passage] = []
        for page in sorted(pages, key=lambda p: p.get("index", 0)):
            title, extract = page.get("title"), page.get("extract")
            if not title or not extract or page.get("missing"):
                continue
            document_id = "wikipedia:" + title.replace(" ", "_")
            passages += text_passages(document_id, title, extract, page.get("fullurl"), limit=3)
        return passages[:k]


class ArxivSearch(_Provider):
    name = "arxiv"
    attribution = "Abstracts from arXiv.org"

    async def search(self, query: str, k: int) -> list[Passage]:
        params = {"search_query": f"all:{query}", "start": "0", "max_results": str(min(k, 20))}
        response = await self._request("GET", "https://export.arxiv.org/api/query", params=params)
        try:
            feed = ElementTree.fromstring(response.content)
        except ElementTree.ParseError:
            raise WebSearchError("arxiv answered with something that is not an Atom feed") from None
        passages: list[Passage] = []
        for entry in feed.iter(f"{_ATOM}entry"):
            url = (entry.findtext(f"{_ATOM}id") or "").strip()
            title = " ".join((entry.findtext(f"{_ATOM}title") or "").split())
            abstract = entry.findtext(f"{_ATOM}summary") or ""
            if not url.startswith("http") or not title or not abstract.strip():
                continue
            paper = url.rsplit("/abs/", 1)[-1]
            passages += text_passages(f"arxiv:{paper}", title, " ".join(abstract.split()), url, limit=1)
        return passages[:k]


class TavilySearch(_Provider):
    name = "tavily"

    def __init__(self, client: httpx2.AsyncClient, api_key: str, *, read_pages: int = 2, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._api_key = api_key
        self._read_pages = read_pages

    async def search(self, query: str, k: int) -> list[Passage]:
        response = await self._request(
            "POST",
            "https://api.tavily.com/search",
            json={"query": query, "max_results": min(k, 20), "search_depth": "basic", "include_answer": False},
            headers={"authorization": f"Bearer {self._api_key}"},
        )
        try:
            results = response.json().get("results", [])
        except (ValueError, AttributeError):
            raise WebSearchError("tavily answered with something that is not a search result") from None
        results = [r for r in results if isinstance(r, dict) and str(r.get("url", "")).startswith("http")]
        pages = await asyncio.gather(*(self._read(str(r["url"]), str(r.get("title") or "")) for r in results[:k]))
        passages: list[Passage] = []
        for rank, (result, page) in enumerate(zip(results, pages, strict=False)):
            url, title = str(result["url"]), str(result.get("title") or result["url"])
            if page and rank < self._read_pages:
                passages += page
            elif result.get("content"):
                passages += text_passages(url_document_id("web", url), title, str(result["content"]), url, limit=1)
        return passages

    async def _read(self, url: str, title: str) -> list[Passage]:
        """The readable text of a result page as passages; [] when it cannot be read (its excerpt is used)."""
        try:
            response = await self._client.get(url)
            check_status(url, response)
            if "html" not in response.headers.get("content-type", "html"):
                return []
            html = response.content[:MAX_PAGE_BYTES].decode(response.encoding or "utf-8", errors="replace")
            text = await asyncio.to_thread(readable_text, html, url)
        except (httpx2.HTTPError, RunFailure) as exc:
            self._notify(f"tavily: could not read {url} ({exc}); using its excerpt")
            return []
        except ImportError:
            self._notify("tavily: pages are read with trafilatura: pip install 'research-nb[web]'; using excerpts")
            return []
        return text_passages(url_document_id("web", url), title or url, text, url) if text else []


def _status_hint(service: str, status: int) -> str:
    if status in (401, 403):
        return f" (the {service} key was refused: check it)" if service == "tavily" else " (access refused)"
    if status == 429:
        return " (rate limited: try again later or lower max_concurrency)"
    return ""
