"""What the workflow needs from an engine and a search provider, and the context it hands them.

The workflow depends on these protocols only; concrete engines live in `research_nb.engines` and are found by
name through `research_nb.core.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from research_nb.core.blocking import run_blocking
from research_nb.core.events import (
    LogMessage,
    ResearchEvent,
    SourceFound,
    SubQuestionProgress,
    UsageUpdated,
    WarningRaised,
)
from research_nb.models.api_models import APIKeys
from research_nb.models.clarification import ClarificationRequest
from research_nb.models.research import (
    Finding,
    Passage,
    ResearchBrief,
    ResearchOptions,
    ResearchReport,
    ResearchState,
    Source,
    SubQuestion,
)

T = TypeVar("T")


class EventSink(Protocol):
    """Where a stage's events go: the run's `ResearchEventBus`, or in a worker process the pipe to it."""

    def emit(self, event: ResearchEvent) -> ResearchEvent: ...


class StageContext:
    """An engine's view of the run: the state to fill in, the options, the keys, and progress reporting.

    Engines record what they retrieve through `add_passages` as they go, so that a cancelled run still has
    everything gathered so far for its partial report.
    """

    def __init__(self, state: ResearchState, bus: EventSink, api_keys: APIKeys | None = None) -> None:
        self.state = state
        self.api_keys = api_keys
        self._bus = bus
        self._passage_ids = {p.id for p in state.passages}
        self._source_ids = {s.id for s in state.sources}

    @property
    def options(self) -> ResearchOptions:
        return self.state.options

    @property
    def request_id(self) -> str:
        return self.state.request_id

    def emit(self, event: ResearchEvent) -> None:
        self._bus.emit(event)

    def log(self, message: str) -> None:
        self.emit(LogMessage(request_id=self.request_id, message=message))

    def warn(self, message: str) -> None:
        """A problem the run survives (an unreadable file, a failed sub-question): recorded and shown, once per
        run (a file that every stage reads again is one problem, not one per stage)."""
        if message in self.state.warnings:
            return
        self.state.warnings.append(message)
        self.emit(WarningRaised(request_id=self.request_id, message=message))

    def progress(
        self,
        sub_question: SubQuestion,
        status: Literal["pending", "searching", "done", "failed"],
        sources_found: int = 0,
    ) -> None:
        self.emit(
            SubQuestionProgress(
                request_id=self.request_id,
                sub_question_id=sub_question.id,
                question=sub_question.question,
                status=status,
                sources_found=sources_found,
            )
        )

    def usage(self, input_tokens: int, output_tokens: int, requests: int, cost_usd: float | None) -> None:
        self.emit(
            UsageUpdated(
                request_id=self.request_id,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                requests=requests,
                cost_usd=cost_usd,
            )
        )

    def add_passages(
        self, passages: Iterable[Passage], sub_question_id: str | None = None, sources: Iterable[Source] = ()
    ) -> list[Passage]:
        """Record retrieved passages (deduplicated by id) and their documents; returns the ones that are new.

        `sources` may describe the passages' documents (origin, attribution, URL); a document without one is
        recorded from its passage.
        """
        return self._add_passages(passages, sub_question_id, sources, announce=True)

    def apply_passages(
        self, passages: Iterable[Passage], sub_question_id: str | None = None, sources: Iterable[Source] = ()
    ) -> None:
        """As `add_passages`, without events: for passages a worker process recorded (it sent their events)."""
        self._add_passages(passages, sub_question_id, sources, announce=False)

    def adopt(self, fields: Mapping[str, Any]) -> None:
        """Take the state fields a stage filled in elsewhere (a worker process) as this run's own."""
        for name, value in fields.items():
            setattr(self.state, name, value)
        self._passage_ids = {p.id for p in self.state.passages}
        self._source_ids = {s.id for s in self.state.sources}

    def _add_passages(
        self, passages: Iterable[Passage], sub_question_id: str | None, sources: Iterable[Source], *, announce: bool
    ) -> list[Passage]:
        known_sources = {s.id: s for s in sources}
        new: list[Passage] = []
        for passage in passages:
            if passage.id in self._passage_ids:
                existing = self.state.passage(passage.id)
                if existing is not None and sub_question_id and sub_question_id not in existing.sub_question_ids:
                    existing.sub_question_ids.append(sub_question_id)
                continue
            if sub_question_id and sub_question_id not in passage.sub_question_ids:
                passage = passage.model_copy(update={"sub_question_ids": [*passage.sub_question_ids, sub_question_id]})
            self._passage_ids.add(passage.id)
            self.state.passages.append(passage)
            new.append(passage)
            if passage.document_id not in self._source_ids:
                source = known_sources.get(passage.document_id) or Source(
                    id=passage.document_id, title=passage.title, url=passage.url
                )
                self._source_ids.add(source.id)
                self.state.sources.append(source)
                if announce:
                    self.emit(
                        SourceFound(
                            request_id=self.request_id,
                            source_id=source.id,
                            title=source.title,
                            origin=source.origin,
                            url=source.url,
                            sub_question_id=sub_question_id,
                        )
                    )
        return new

    async def run_blocking(self, fn: Callable[..., T], *args: object) -> T:
        """Run blocking work in a thread so the loop (and the Cancel button) stays live; the thread stops at its
        next `check_stop()` once the run is cancelled (see `research_nb.core.blocking`). CPU-heavy stages belong
        in a worker process (`research_nb.core.workers`): there this runs in a thread of the worker."""
        return await run_blocking(fn, *args)


@runtime_checkable
class Engine(Protocol):
    """A research engine: one coroutine per stage. Each may be cancelled at any await."""

    name: str

    async def clarify(self, ctx: StageContext) -> ClarificationRequest | None:
        """Questions to ask before researching, or None to go on."""
        ...

    async def brief(self, ctx: StageContext) -> ResearchBrief: ...

    async def research(self, ctx: StageContext) -> None:
        """Search for every sub-question, recording passages through `ctx.add_passages`."""
        ...

    async def compress(self, ctx: StageContext) -> list[Finding]: ...

    async def report(self, ctx: StageContext) -> ResearchReport: ...

    def partial_report(self, state: ResearchState) -> ResearchReport | None:
        """A report from whatever the state holds, for a cancelled or failed run. Fast and synchronous."""
        ...


@runtime_checkable
class ChecksOptions(Protocol):
    """An engine that can reject bad options (a missing source path) before a run starts."""

    def check_options(self, options: ResearchOptions) -> None:
        """Raise a `UserInputError` naming what is wrong and how to fix it."""
        ...


@runtime_checkable
class SearchProvider(Protocol):
    """Something that turns a query into passages: a local corpus, a web search API."""

    name: str

    async def search(self, query: str, k: int) -> list[Passage]: ...
