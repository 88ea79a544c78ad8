"""The research run as data: stages, state, brief, passages, findings and the report.

Pure data: no I/O and no asyncio, so the state can be saved, sent over the wire and read back with nothing lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, Field, JsonValue, field_validator, model_validator

from research_nb.models.clarification import ClarificationRequest, ClarificationResponse


def utcnow() -> datetime:
    """Aware UTC now: every timestamp in the project is made here."""
    return datetime.now(UTC)


def new_request_id() -> str:
    return uuid4().hex[:16]


#: The longest research question, in characters after stripping (the same for every front).
MAX_QUERY_CHARS = 5000


_ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start cut at a word boundary and an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    word_end = cut.rfind(" ")
    if word_end > limit // 2:  # cut between words, unless that loses most of the room (one very long word)
        cut = cut[:word_end]
    return cut.rstrip() + _ELLIPSIS


def storable_text(text: str, what: str = "the research question") -> str:
    """`text` unchanged if it can be saved and sent: no NUL character and nothing that cannot be encoded as UTF-8
    (a lone surrogate, e.g. from a mis-decoded file name or a broken paste). Raises `ValueError` naming where."""
    nul = text.find("\0")
    if nul >= 0:
        raise ValueError(f"{what} holds a NUL character (at character {nul + 1}); remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} holds text that cannot be encoded as UTF-8 (a lone surrogate at character {exc.start + 1}); "
            "retype it"
        ) from None
    return text


def checked_question(text: str) -> str:
    """A research question as every front accepts it: stripped, 1..`MAX_QUERY_CHARS` characters, storable.
    Raises `ValueError` with a one-line message that says what to fix."""
    question = storable_text(text.strip())
    if not question:
        raise ValueError("the research question is empty: ask something, e.g. 'How do Norway and Sweden differ?'")
    if len(question) > MAX_QUERY_CHARS:
        raise ValueError(f"the research question has {len(question)} characters; the limit is {MAX_QUERY_CHARS}")
    return question


class ResearchStage(StrEnum):
    """Where a run is. The wire shows the value (`status`) or the upper-case name (SSE `stage`)."""

    PENDING = "pending"
    CLARIFICATION = "clarification"
    BRIEF_GENERATION = "brief_generation"
    RESEARCH_EXECUTION = "research_execution"
    COMPRESSION = "compression"
    REPORT_GENERATION = "report_generation"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (ResearchStage.COMPLETED, ResearchStage.FAILED, ResearchStage.CANCELLED)


#: The working stages in the order the workflow runs them.
PIPELINE: tuple[ResearchStage, ...] = (
    ResearchStage.CLARIFICATION,
    ResearchStage.BRIEF_GENERATION,
    ResearchStage.RESEARCH_EXECUTION,
    ResearchStage.COMPRESSION,
    ResearchStage.REPORT_GENERATION,
)


#: Web search providers the `llm` engine knows.
WebProvider = Literal["wikipedia", "arxiv", "tavily"]


class ResearchOptions(BaseModel):
    """How to research: the engine and its knobs. Never holds a secret (it is saved with the run)."""

    engine: str = Field("offline", min_length=1, max_length=64, description="Engine name from the registry")
    model: str | None = Field(None, max_length=200, description="Model for engines that use one")
    max_search_results: int = Field(10, ge=1, le=100, description="Passages kept per search")
    sources: list[str] = Field(default_factory=list, description="Files, folders or globs to research")
    corpora: list[str] | None = Field(None, description="Built-in corpora to include; None means the engine's default")
    max_hops: int = Field(2, ge=0, le=5, description="Follow-up search rounds after the first")
    max_concurrency: int = Field(4, ge=1, le=32, description="Searches or model calls at once")
    clarify: bool = Field(True, description="Let the engine pause to ask clarifying questions")
    # -- engines that call models or the web (the `llm` engine) --
    web: list[WebProvider] | None = Field(
        None, description="Web search providers; None: the engine's default (Wikipedia, plus Tavily with a key)"
    )
    local_only: bool = Field(False, description="No request may leave the machine: no web, a local model server only")
    base_url: str | None = Field(
        None, max_length=500, description="OpenAI-compatible server for the model (a local Ollama or llama.cpp)"
    )
    api_key_env: str | None = Field(
        None,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the model's key (never the key itself)",
    )
    model_timeout: float | None = Field(
        None, gt=0, le=3600, description="Seconds one model request may take once sent (not while queued); None: 180"
    )
    structured_output: Literal["auto", "native", "tool"] = Field(
        "auto",
        description="How the model returns structured answers: native (a JSON schema), tool (a tool call), auto "
        "(native for a base_url server, which may not enforce tool calls; tool otherwise)",
    )
    small_model: bool | None = Field(
        None,
        description="Treat the model as small: the engine plans the searches and the model only takes notes from "
        "trimmed passages; None: detect (a local llama.cpp server's model under 4B parameters)",
    )
    budget_tokens: int | None = Field(None, ge=1, le=1_000_000_000, description="Stop new model calls at this many")
    budget_usd: float | None = Field(None, gt=0, le=10_000, description="Stop new model calls at this estimated cost")
    record_to: str | None = Field(None, max_length=4096, description="Record every model and web exchange here")
    replay_from: str | None = Field(
        None, max_length=4096, description="Replay model and web exchanges from this cassette (no keys, no network)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ResearchOptions:
        if self.record_to and self.replay_from:
            raise ValueError("record_to and replay_from exclude each other: record once, then replay")
        if self.local_only and self.web:
            raise ValueError(f"local_only forbids web search; drop web={self.web} or local_only")
        return self


class SubQuestion(BaseModel):
    id: str
    question: str
    queries: list[str] = Field(default_factory=list)
    entity: str | None = Field(None, description="The entity this line of a comparison is about")


QuestionKind = Literal[
    "fact", "numeric", "comparison", "superlative", "topn", "trend", "yesno", "list", "overview", "multipart"
]


class QuestionPlan(BaseModel):
    """What a question asks, read by an engine before it searches (shown in the brief and the widget)."""

    kind: QuestionKind = "overview"
    entities: list[str] = Field(default_factory=list, description="Documents (countries, subjects) it names")
    groups: list[str] = Field(default_factory=list, description="Sets it ranges over: a region, 'landlocked'")
    attribute: str | None = Field(None, description="The field asked for, as the corpus names it")
    attribute_detail: str | None = Field(None, description="The part of the field (e.g. 'total', 'chief of state')")
    operation: Literal["highest", "lowest", "changed", "member", "has", "is"] | None = None
    test: str | None = Field(None, description="What a yes/no question tests: 'landlocked', 'monarchy', 'EU'")
    count: int | None = Field(None, ge=1, le=50, description="How many a top-N question wants")
    years: list[int] = Field(default_factory=list, description="Years the question names (from, to)")
    parts: list[str] = Field(default_factory=list, description="The clauses of a multi-part question")

    def describe(self) -> str:
        """One line for people: 'superlative · Inflation rate (consumer prices) · highest · South America'."""
        bits = [self.kind, self.attribute or "", self.operation or "", *self.groups, *self.entities]
        bits += [str(y) for y in self.years]
        return " · ".join(b for b in bits if b)


class ResearchBrief(BaseModel):
    objective: str
    sub_questions: list[SubQuestion] = Field(default_factory=list)
    comparison: bool = False
    plan: QuestionPlan | None = None


class PassageLocation(BaseModel):
    """Where a passage sits in its document, precisely enough to find it again."""

    path: str | None = None
    page: int | None = None
    heading: str | None = None
    cell: int | None = None
    start: int | None = None
    end: int | None = None

    def describe(self) -> str:
        parts = []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.heading:
            parts.append(f'"{self.heading}"')
        return ", ".join(parts)


class Source(BaseModel):
    """A document the run found."""

    id: str
    title: str
    url: str | None = None
    origin: str = Field("local", description="Corpus or provider the document came from")
    attribution: str | None = None


class Passage(BaseModel):
    """A piece of a document the run retrieved: the only thing a citation may point at."""

    id: str
    document_id: str
    title: str
    text: str
    location: PassageLocation = Field(default_factory=PassageLocation)
    url: str | None = None
    score: float = 0.0
    sub_question_ids: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    """A statement the run established, with the passages it rests on."""

    sub_question_id: str
    text: str
    passage_ids: list[str] = Field(min_length=1)
    score: float = 0.0
    quote: str | None = Field(None, description="The words of the first passage the statement rests on, if not its own")


class Citation(BaseModel):
    number: int = Field(ge=1)
    passage_id: str
    quote: str


class Reference(BaseModel):
    number: int = Field(ge=1)
    passage_id: str
    source_id: str
    title: str
    location: str = ""
    url: str | None = None
    attribution: str | None = None
    path: str | None = Field(None, description="The user's file it came from, as the corpus shows it (notes/a.md)")


class ReportSection(BaseModel):
    title: str
    content: str
    subsections: list[ReportSection] = Field(default_factory=list)
    figures: list[JsonValue] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)


class ReportMetadata(BaseModel):
    created_at: datetime = Field(default_factory=utcnow)
    engine: str = ""
    partial: bool = False
    source_summary: list[str] = Field(default_factory=list)
    documents_searched: int = 0
    sources_cited: int = 0
    unsupported_claims: int = 0


class ResearchReport(BaseModel):
    """The report; `markdown` is what users read, the other fields are its parts for machines."""

    title: str
    executive_summary: str = ""
    introduction: str = ""
    methodology: str = ""
    sections: list[ReportSection] = Field(default_factory=list)
    conclusion: str = ""
    conclusions: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    metadata: ReportMetadata = Field(default_factory=ReportMetadata)
    quality_score: float | None = None
    markdown: str = ""

    def citations(self) -> list[Citation]:
        found: list[Citation] = []
        stack = list(self.sections)
        while stack:
            section = stack.pop(0)
            found.extend(section.citations)
            stack.extend(section.subsections)
        return found


class ResearchState(BaseModel):
    """Everything about one run. Mutated in place by the workflow; survives a JSON round trip intact."""

    request_id: str = Field(default_factory=new_request_id)
    user_query: str
    user_id: str | None = None
    session_id: str | None = None
    options: ResearchOptions = Field(default_factory=ResearchOptions)
    conversation_history: list[dict[str, str]] = Field(default_factory=list)

    current_stage: ResearchStage = ResearchStage.PENDING
    completed_stages: list[ResearchStage] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    error_message: str | None = None
    cancel_reason: str | None = None

    clarification: ClarificationRequest | None = None
    clarification_response: ClarificationResponse | None = None
    brief: ResearchBrief | None = None
    sources: list[Source] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    report: ResearchReport | None = None
    warnings: list[str] = Field(default_factory=list)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("user_query")
    @classmethod
    def _storable_question(cls, value: str) -> str:
        # A state must always be savable: a question that cannot be written would lose the run.
        return storable_text(value)

    # -- transitions -------------------------------------------------------------------------------------

    def start_research(self) -> None:
        """Mark the run started; a pending run moves to its first stage."""
        now = utcnow()
        self.started_at = self.started_at or now
        if self.current_stage is ResearchStage.PENDING:
            self.current_stage = PIPELINE[0]
        self.updated_at = now

    def enter_stage(self, stage: ResearchStage) -> None:
        self.current_stage = stage
        self.updated_at = utcnow()

    def finish_stage(self, stage: ResearchStage) -> None:
        if stage not in self.completed_stages:
            self.completed_stages.append(stage)
        self.updated_at = utcnow()

    def complete(self) -> None:
        self._end(ResearchStage.COMPLETED)

    def set_error(self, message: str) -> None:
        """The run failed: record why."""
        self.error_message = message
        self._end(ResearchStage.FAILED)

    def cancel(self, reason: str = "Cancelled by user") -> None:
        self.cancel_reason = reason
        self._end(ResearchStage.CANCELLED)

    def _end(self, stage: ResearchStage) -> None:
        now = utcnow()
        self.current_stage = stage
        self.completed_at = now
        self.updated_at = now

    def next_stage(self) -> ResearchStage | None:
        """The first pipeline stage not done yet (where a resumed run picks up)."""
        for stage in PIPELINE:
            if stage not in self.completed_stages:
                return stage
        return None

    def reopen(self) -> None:
        """Make a stopped (cancelled, failed, paused) run resumable from its next stage."""
        self.error_message = None
        self.cancel_reason = None
        self.completed_at = None
        self.current_stage = self.next_stage() or ResearchStage.REPORT_GENERATION
        # Keep only what completed stages produced: a stage that was interrupted runs again from its start, so a
        # resumed run gives the same result as one that was never interrupted. (A report on an unfinished run is
        # the partial one made when it stopped.)
        done = set(self.completed_stages)
        if ResearchStage.BRIEF_GENERATION not in done:
            self.brief = None
        if ResearchStage.RESEARCH_EXECUTION not in done:
            self.passages, self.sources = [], []
        if ResearchStage.COMPRESSION not in done:
            self.findings = []
        if ResearchStage.REPORT_GENERATION not in done:
            self.report = None
        self.updated_at = utcnow()

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return self.current_stage.is_terminal

    @property
    def awaiting_clarification(self) -> bool:
        return (
            self.current_stage is ResearchStage.CLARIFICATION
            and self.clarification is not None
            and self.clarification_response is None
        )

    def passage(self, passage_id: str) -> Passage | None:
        return next((p for p in self.passages if p.id == passage_id), None)

    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.completed_at or utcnow()) - self.started_at).total_seconds()
