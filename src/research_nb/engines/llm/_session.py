"""One stage of one LLM run: its model (bounded, metered, budgeted, recorded or replayed), its search providers
(the local corpus and the web), and the two things a stage does with them — ask an agent, search.

A session is opened per stage and closes its HTTP clients when the stage ends, so nothing bound to an event loop
outlives the stage. What must last for the whole run (the cassette, the usage so far) lives in `RunMemory` and in
the run's state.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx2
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models import Model

from research_nb.core.cassette import Cassette, CassetteMissError
from research_nb.core.errors import ConfigurationError, EngineError
from research_nb.core.protocols import StageContext
from research_nb.core.retry import RetryPolicy, retrying
from research_nb.engines.llm._agents import stage_settings
from research_nb.engines.llm._keys import KeyRing
from research_nb.engines.llm._models import (
    ReplayModel,
    RunModel,
    classify_model_error,
    describe_model_error,
    resolve_model,
)
from research_nb.engines.llm._server import STATE_KEY, ServerProfile, decide, list_models
from research_nb.engines.llm._usage import BudgetExhausted, StageUsage, UsageMeter
from research_nb.engines.llm._verify import entity_names
from research_nb.models.research import Passage, ResearchOptions, Source
from research_nb.sources._http import LocalOnlyTransport, TransportFactory, web_client
from research_nb.sources.corpus import Corpus
from research_nb.sources.web import WEB_RETRY, ArxivSearch, TavilySearch, WikipediaSearch

T = TypeVar("T")

MODEL_RETRY = RetryPolicy(attempts=4, base_delay=2.0, max_delay=60.0, timeout=180.0)  # timeout: per request, once sent
_PROBE_KEY = "model-server"  # the cassette entry of the server's model listing
MODEL_HTTP_TIMEOUT = httpx2.Timeout(170.0, connect=10.0)
WEB_NAMES = {"wikipedia": "Wikipedia", "arxiv": "arXiv", "tavily": "Tavily"}


class ModelCallFailed(EngineError):
    """A model call failed for good (after retries); the message never holds a key."""


class Searcher(Protocol):
    name: str

    async def search(self, query: str, k: int) -> list[Passage]: ...

    def source(self, passage: Passage) -> Source: ...


class CorpusSearcher:
    name = "corpus"

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    async def search(self, query: str, k: int) -> list[Passage]:
        return await self.corpus.search(query, k)

    def source(self, passage: Passage) -> Source:
        return self.corpus.source(passage.document_id) or Source(id=passage.document_id, title=passage.title)


@dataclass
class RunMemory:
    """What one run keeps between its stages in this process."""

    cassette: Cassette | None
    warned: set[str] = field(default_factory=set)  # providers whose failure was already reported


@dataclass
class Found:
    passages: list[Passage] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)


@dataclass
class EngineConfig:
    """What an `LLMEngine` was built with (tests replace the model and the network)."""

    model: Model | None = None
    http_transport: TransportFactory | None = None
    retry: RetryPolicy = MODEL_RETRY
    web_retry: RetryPolicy = WEB_RETRY
    cache_dir: Path | None = None
    environ: dict[str, str] | None = None
    dotenv: dict[str, str | None] | None = None


def model_spec(options: ResearchOptions, config: EngineConfig) -> str:
    """The model string of a run: its option, else `RESEARCH_NB_MODEL`; a replay or a given model needs none."""
    environ = config.environ if config.environ is not None else os.environ
    spec = options.model or environ.get("RESEARCH_NB_MODEL")
    if spec:
        return spec
    if config.model is not None:
        return config.model.model_name
    if options.replay_from:
        return "replay"
    raise ConfigurationError(
        "the llm engine needs a model: pass model='openai:gpt-4o-mini' (or anthropic:..., google-gla:..., "
        "ollama:...) or set RESEARCH_NB_MODEL"
    )


def web_providers(options: ResearchOptions, keys: KeyRing) -> list[str]:
    """The web providers of a run: as asked, else Wikipedia (no key) plus Tavily when a Tavily key is at hand."""
    if options.local_only:
        return []
    if options.web is not None:
        return list(options.web)
    return ["wikipedia", *(["tavily"] if keys.get("tavily") else [])]


def corpus_builtins(options: ResearchOptions, web: Sequence[str]) -> tuple[str, ...]:
    """Built-in corpora: as asked, else the Factbook when the run has neither files nor the web to search."""
    if options.corpora is not None:
        return tuple(options.corpora)
    return () if options.sources or web else ("factbook",)


class Session:
    def __init__(
        self, ctx: StageContext, stage: str, config: EngineConfig, memory: RunMemory, keys: KeyRing, spec: str
    ) -> None:
        self.ctx = ctx
        self.stage = stage
        self.keys = keys
        self.spec = spec
        self.memory = memory
        self._config = config
        self._clients: list[httpx2.AsyncClient] = []
        options = ctx.options
        self.meter = UsageMeter.resume(ctx.state.metadata.get("usage"), spec, options.budget_tokens, options.budget_usd)
        cassette = memory.cassette
        base: Model
        if cassette is not None and cassette.mode == "replay":
            base = ReplayModel(cassette, spec)
        elif config.model is not None:
            base = config.model
        else:
            base = resolve_model(
                spec,
                keys=keys,
                base_url=options.base_url,
                api_key_env=options.api_key_env,
                local_only=options.local_only,
                http_client=self._model_http_client,
            )
        self._recorder = cassette if cassette is not None and cassette.mode == "record" else None
        self.model = RunModel(
            base,
            stage=stage,
            meter=self.meter,
            limit=asyncio.Semaphore(options.max_concurrency),
            on_usage=self._usage,
            recorder=self._recorder,
            timeout=options.model_timeout or config.retry.timeout,
        )
        self.profile = ServerProfile()
        self.searchers: list[Searcher] = []
        self._search_limit = asyncio.Semaphore(options.max_concurrency)

    # -- asking -------------------------------------------------------------------------------------------------

    async def profile_server(self) -> ServerProfile:
        """What the run's model server supports: from the run's state when a stage already asked, else from the
        server's model listing (asked once per run, recorded to and replayed from the cassette)."""
        state, options = self.ctx.state, self.ctx.options
        saved = state.metadata.get(STATE_KEY)
        if isinstance(saved, dict):
            self.profile = ServerProfile.model_validate(saved)
            return self.profile
        listing: object = None
        cassette = self.memory.cassette
        if cassette is not None and cassette.mode == "replay":
            try:
                listing = cassette.next_model(_PROBE_KEY, "model server")
            except CassetteMissError:
                listing = None  # a cassette recorded without a server of its own
        elif options.base_url and self._config.model is None:
            listing = await list_models(self._model_http_client(), options.base_url)
            if self._recorder is not None:
                self._recorder.add_model(_PROBE_KEY, "model server", listing)  # type: ignore[arg-type]
        self.profile = decide(options, self.spec, listing if isinstance(listing, dict) else None)
        state.metadata[STATE_KEY] = self.profile.model_dump(mode="json")
        return self.profile

    async def ask(self, agent: Agent[None, T], prompt: str, *, schema: type[T] | None = None) -> T:
        """The agent's typed answer (of `schema`, a narrower output type for this call, when given), retried on
        rate limits and transient failures. Raises `BudgetExhausted` when the budget forbids the call,
        `ModelCallFailed` (redacted) when it fails for good — a server's refusal (HTTP 4xx) at once, with what it
        said: the same request would be refused again."""
        native = self.profile.output == "native"
        wanted: Any = schema or agent.output_type
        output_type = NativeOutput(wanted, name=agent.name, strict=False) if native else schema
        settings = stage_settings(agent.name or "", local=self.profile.local)

        async def attempt() -> T:
            result = await agent.run(prompt, model=self.model, output_type=output_type, model_settings=settings)
            return result.output

        def on_retry(message: str) -> None:
            self.ctx.log(f"{agent.name}: {message}")

        # Each request is timed from when it is sent (`RunModel`); the retry loop adds no clock of its own.
        policy = replace(self._config.retry, timeout=None)
        try:
            return await retrying(attempt, policy, classify_model_error, on_retry)
        except (BudgetExhausted, CassetteMissError, ConfigurationError):
            raise
        except Exception as exc:
            detail = self.keys.redact(describe_model_error(exc))
            raise ModelCallFailed(f"the {agent.name} model call failed: {detail}") from None

    def _usage(self, total: StageUsage) -> None:
        self.ctx.state.metadata["usage"] = self.meter.usage.model_dump(mode="json")
        self.ctx.usage(total.input_tokens, total.output_tokens, total.requests, total.cost_usd)

    # -- searching ----------------------------------------------------------------------------------------------

    async def open_search(self, corpus_dir: Path | None) -> None:
        options, ctx = self.ctx.options, self.ctx
        names = web_providers(options, self.keys)
        builtins = corpus_builtins(options, names)
        if options.sources or builtins:
            corpus = await ctx.run_blocking(self._open_corpus, options.sources, builtins, corpus_dir)
            self.searchers.append(CorpusSearcher(corpus))
        if names:
            client = web_client(
                cassette=self.memory.cassette, local_only=options.local_only, transport=self._config.http_transport
            )
            self._clients.append(client)
            common: dict[str, Any] = {"retry": self._config.web_retry, "notify": ctx.log}
            for name in names:
                if name == "wikipedia":
                    self.searchers.append(WikipediaSearch(client, **common))
                elif name == "arxiv":
                    self.searchers.append(ArxivSearch(client, **common))
                else:
                    replaying = self.memory.cassette is not None and self.memory.cassette.mode == "replay"
                    key = "replayed" if replaying else self.keys.require("tavily", "tavily web search")
                    self.searchers.append(TavilySearch(client, key, **common))

    def _open_corpus(self, sources: list[str], builtins: tuple[str, ...], cache_dir: Path | None) -> Corpus:
        return Corpus.open(
            sources, builtins=builtins, cache_dir=cache_dir, on_progress=self.ctx.log, on_warning=self.ctx.warn
        )

    def corpus(self) -> Corpus | None:
        """The run's local corpus (its files and built-in corpora), when it searches one."""
        return next((s.corpus for s in self.searchers if isinstance(s, CorpusSearcher)), None)

    def entities(self) -> list[str]:
        """The names the run knows things by: its corpus's document titles, the subjects of the passages it
        retrieved ("Norway" of "Norway — Economy") and its sub-questions' entities."""
        titles: list[str] = []
        for searcher in self.searchers:
            if isinstance(searcher, CorpusSearcher):
                titles += searcher.corpus.titles().values()
        titles += (p.title for p in self.ctx.state.passages)
        brief = self.ctx.state.brief
        titles += (sq.entity for sq in (brief.sub_questions if brief else []) if sq.entity)
        return entity_names(titles)

    def documents(self) -> int:
        """Local documents searched (web documents are counted as they are found)."""
        return sum(s.corpus.num_documents for s in self.searchers if isinstance(s, CorpusSearcher))

    def scope(self) -> list[str]:
        """What the run searches, for the report's byline."""
        places = []
        for searcher in self.searchers:
            if isinstance(searcher, CorpusSearcher):
                places.append(f"{searcher.corpus.num_documents:,} local documents")
            else:
                places.append(WEB_NAMES.get(searcher.name, searcher.name))
        return places

    async def search(self, queries: Sequence[str], k: int, exclude: AbstractSet[str] = frozenset()) -> Found:
        """Every query on every provider at once (bounded); results interleaved by rank, so each provider's best
        come first, and cut at `k`. A provider that fails is reported once and skipped — it never invents."""
        jobs = [(searcher, query) for query in queries for searcher in self.searchers]
        results = await asyncio.gather(*(self._search_one(s, q, k) for s, q in jobs))
        found = Found()
        for rank in range(max((len(r) for r in results), default=0)):
            for (searcher, _), hits in zip(jobs, results, strict=True):
                if rank >= len(hits) or len(found.passages) >= k:
                    continue
                hit = hits[rank]
                if hit.id in exclude or any(p.id == hit.id for p in found.passages):
                    continue
                found.passages.append(hit)
                found.sources.setdefault(hit.document_id, searcher.source(hit))
        return found

    async def _search_one(self, searcher: Searcher, query: str, k: int) -> list[Passage]:
        async with self._search_limit:
            try:
                return await searcher.search(query, k)
            except (CassetteMissError, asyncio.CancelledError):
                raise
            except Exception as exc:
                message = self.keys.redact(f"{searcher.name} search for {query!r} failed: {exc}")
                if searcher.name in self.memory.warned:
                    self.ctx.log(message)
                else:
                    self.memory.warned.add(searcher.name)
                    self.ctx.warn(message)
                return []

    # -- lifetime -----------------------------------------------------------------------------------------------

    def _model_http_client(self) -> httpx2.AsyncClient:
        transport = self._config.http_transport() if self._config.http_transport else httpx2.AsyncHTTPTransport()
        if self.ctx.options.local_only:
            transport = LocalOnlyTransport(transport)
        client = httpx2.AsyncClient(transport=transport, timeout=MODEL_HTTP_TIMEOUT)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        self.ctx.state.metadata["usage"] = self.meter.usage.model_dump(mode="json")
        if self.memory.cassette is not None:
            self.memory.cassette.save()


@asynccontextmanager
async def open_session(
    ctx: StageContext,
    stage: str,
    config: EngineConfig,
    memory: RunMemory,
    *,
    search: bool = False,
) -> AsyncIterator[Session]:
    keys = KeyRing(ctx.api_keys, config.environ, config.dotenv)
    session = Session(ctx, stage, config, memory, keys, model_spec(ctx.options, config))
    try:
        await session.profile_server()
        if search:
            await session.open_search(config.cache_dir)
        yield session
    finally:
        await session.close()
