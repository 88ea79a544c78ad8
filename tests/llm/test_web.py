"""Web providers over recorded payloads: results become passages with URLs; failures are loud, never invented;
strict local-only mode lets nothing leave the machine."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from llm.conftest import EngineMaker
from llm.scripted import FAST_RETRY, ScriptedLLM, WebLog, flow_with, web_handler
from research_nb.core.errors import ConfigurationError
from research_nb.models.research import ResearchOptions, ResearchStage
from research_nb.sources._http import LocalOnlyTransport, LocalOnlyViolation, web_client
from research_nb.sources.web import ArxivSearch, TavilySearch, WebSearchError, WikipediaSearch

NOTES = Path(__file__).parents[1] / "sources" / "fixtures" / "notes"


def client(web: WebLog, *, tavily_key: str | None = None) -> httpx2.AsyncClient:
    return web_client(transport=lambda: httpx2.MockTransport(web_handler(web, tavily_key=tavily_key)))


async def test_wikipedia_results_become_passages_with_urls_and_attribution(web: WebLog) -> None:
    async with client(web) as http:
        provider = WikipediaSearch(http, retry=FAST_RETRY)
        passages = await provider.search("tide", 10)

    assert [p.document_id for p in passages][:1] == ["wikipedia:Tide"]
    assert {p.url for p in passages} == {
        "https://en.wikipedia.org/wiki/Tide",
        "https://en.wikipedia.org/wiki/Tidal_force",
    }
    assert passages[0].text.startswith("Tides are the rise and fall of sea levels")
    assert len({p.id for p in passages}) == len(passages)
    source = provider.source(passages[0])
    assert source.origin == "wikipedia" and "CC BY-SA" in (source.attribution or "")
    sent = web.requests[0]
    assert sent.url.params["gsrsearch"] == "tide" and "research-nb" in sent.headers["user-agent"]


async def test_a_search_with_no_hits_gives_nothing(web: WebLog) -> None:
    async with client(web) as http:
        assert await WikipediaSearch(http, retry=FAST_RETRY).search("volcanic ash clouds", 5) == []


async def test_tavily_reads_the_best_pages_and_keeps_excerpts_of_the_rest(web: WebLog) -> None:
    async with client(web, tavily_key="tvly-test") as http:
        passages = await TavilySearch(http, "tvly-test", read_pages=1, retry=FAST_RETRY).search("two tides", 5)

    page = [p for p in passages if p.url == "https://oceanservice.example.org/facts/twotides.html"]
    text = " ".join(p.text for p in page)
    assert "24 hours and 50 minutes" in text  # from the page itself, not Tavily's excerpt
    for clutter in ("All rights reserved", "Ocean facts", "Related facts", "Search ocean facts"):
        assert clutter not in text
    excerpt = [p for p in passages if p.url == "https://tides.example.net/neap-and-spring"]
    assert len(excerpt) == 1 and excerpt[0].text.startswith("Spring tides happen twice a month")


async def test_a_refused_tavily_key_fails_loudly_without_showing_it(web: WebLog) -> None:
    async with client(web, tavily_key="tvly-right") as http:
        with pytest.raises(WebSearchError, match=r"HTTP 401 \(the tavily key was refused") as caught:
            await TavilySearch(http, "tvly-wrong-key", retry=FAST_RETRY).search("tides", 5)
    assert "tvly-wrong-key" not in str(caught.value)


async def test_arxiv_abstracts_become_passages(web: WebLog) -> None:
    async with client(web) as http:
        passages = await ArxivSearch(http, retry=FAST_RETRY).search("tidal dissipation", 5)

    assert [p.document_id for p in passages] == ["arxiv:2405.01234v2", "arxiv:2311.04567v1"]
    assert passages[0].title == "Tidal dissipation in the Earth's oceans and the lengthening of the day"
    assert passages[0].url == "http://arxiv.org/abs/2405.01234v2"
    assert "2.3 milliseconds per century" in passages[0].text


async def test_a_failing_provider_is_retried_then_reported_and_invents_nothing(
    make_engine: EngineMaker, brain: ScriptedLLM
) -> None:
    attempts: list[str] = []

    def unavailable(request: httpx2.Request) -> httpx2.Response:
        attempts.append(str(request.url))
        return httpx2.Response(503, text="Service Unavailable", headers={"retry-after": "0"})

    flow = flow_with(make_engine(http_transport=lambda: httpx2.MockTransport(unavailable)))
    state = await flow.run("Why are there two high tides a day?", options=ResearchOptions(engine="llm", model="x:y"))

    assert state.current_stage is ResearchStage.COMPLETED
    assert len(attempts) == 2 * FAST_RETRY.attempts  # two queries, each tried three times
    # the provider's failure is reported once (the second query's goes to the log), then each empty sub-question
    assert state.warnings == [
        "wikipedia search for 'tide formation' failed: wikipedia answered HTTP 503",
        "sub-question sq-1 (How do tides form?): no search result",
        "sub-question sq-2 (What role does the Moon play?): no search result",
    ]
    assert state.passages == [] and state.sources == []
    assert "notes" not in brain.calls  # nothing to take notes from: the model is not asked to make things up
    assert (
        state.report is not None and "Nothing in the searched documents answers this question" in state.report.markdown
    )


async def test_local_only_research_sends_no_request_at_all(make_engine: EngineMaker, brain: ScriptedLLM) -> None:
    sent: list[str] = []

    def tripwire(request: httpx2.Request) -> httpx2.Response:
        sent.append(str(request.url))
        raise AssertionError(f"a local-only run sent a request to {request.url}")

    brain.sub_questions = [("How high do tides rise?", ["tides"])]
    flow = flow_with(make_engine(http_transport=lambda: httpx2.MockTransport(tripwire)))
    state = await flow.run(
        "How do tides work?", options=ResearchOptions(engine="llm", local_only=True, sources=[str(NOTES)])
    )

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert sent == []
    assert state.passages and all(p.url is None for p in state.passages)
    assert {s.origin for s in state.sources} == {"local"}
    assert state.report is not None and "Tides and the Moon" in state.report.markdown


def test_local_only_refuses_a_remote_model_before_the_run(make_engine: EngineMaker) -> None:
    flow = flow_with(make_engine(model=None))
    with pytest.raises(ConfigurationError, match="local_only: the model openai:gpt-4o-mini would send"):
        flow.prepare(
            "How do tides work?", options=ResearchOptions(engine="llm", model="openai:gpt-4o-mini", local_only=True)
        )


async def test_the_local_only_guard_refuses_other_machines_and_lets_loopback_through() -> None:
    reached: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        reached.append(request.url.host)
        return httpx2.Response(200, json={})

    async with httpx2.AsyncClient(transport=LocalOnlyTransport(httpx2.MockTransport(answer))) as http:
        for url in (
            "https://en.wikipedia.org/w/api.php",
            "http://10.0.0.5:11434/v1",
            "http://example.localhost.evil.com/",
        ):
            with pytest.raises(LocalOnlyViolation):
                await http.get(url)
        for url in ("http://localhost:11434/v1/models", "http://127.0.0.1:8080/v1", "http://[::1]:8080/"):
            assert (await http.get(url)).status_code == 200
    assert reached == ["localhost", "127.0.0.1", "::1"]
