"""The request and response models every front shares (notebook magic, HTTP API, CLI). Defined once here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, StringConstraints, field_validator

from research_nb.models.clarification import ClarificationRequest
from research_nb.models.research import (
    MAX_QUERY_CHARS,
    Citation,
    Reference,
    ResearchOptions,
    ResearchStage,
    checked_question,
)

#: Request limits at the edge (issue 13): each corpus name costs an index in memory, each source a walk of files.
MAX_CORPORA = 8
MAX_SOURCES = 100
MAX_PATH_CHARS = 4096
#: Longest run id the API looks up (the ids it makes are 16 characters; the X-User-ID/X-Session-ID prefix adds more)
MAX_REQUEST_ID_CHARS = 128
#: Options that choose the server's own environment variables and where its keys are sent: never over HTTP.
SERVER_ONLY_OPTIONS = ("api_key_env", "base_url")


class APIKeys(BaseModel):
    """Keys a request may bring. `SecretStr` keeps them out of repr, str, JSON dumps and logs."""

    model_config = ConfigDict(extra="forbid")

    openai: SecretStr | None = None
    anthropic: SecretStr | None = None
    google: SecretStr | None = None
    tavily: SecretStr | None = None

    def present(self) -> list[str]:
        """Names of the keys that are set (never their values)."""
        return [name for name, value in self if value is not None and value.get_secret_value()]

    def redact(self, text: str) -> str:
        """`text` with every key value replaced by `***` (for error messages that may quote a request)."""
        for _, value in self:
            secret = value.get_secret_value() if value is not None else ""
            if secret:
                text = text.replace(secret, "***")
        return text


#: The characters `str.strip()` removes, spelled out: JSON Schema's `\s` (ECMA 262) is another set.
_SPACE = r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_QUERY_PATTERN = rf"^[{_SPACE}]*[^{_SPACE}](?:[\s\S]{{0,{MAX_QUERY_CHARS - 2}}}[^{_SPACE}])?[{_SPACE}]*$"


def _without_server_only_options(schema: dict[str, JsonValue]) -> None:
    """`base_url` and `api_key_env` are for the notebook and the CLI: over HTTP they are refused with a clear
    message (`research_nb.api.runs.check_remote_options`), so the published schema does not offer them."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name in SERVER_ONLY_OPTIONS:
            properties.pop(name, None)


class ResearchRequest(ResearchOptions):
    """A request to research `query`. The engine options are inherited from `ResearchOptions`."""

    model_config = ConfigDict(json_schema_extra=_without_server_only_options)

    query: str = Field(
        description="The research question (1..5000 characters after stripping)",
        # exactly what the validator below enforces, for the published schema: at most 5000 characters from the
        # first non-space to the last, with any amount of space around them
        json_schema_extra={"minLength": 1, "pattern": _QUERY_PATTERN},
    )
    stream: bool = Field(True, description="Whether the client will follow the event stream")
    api_keys: APIKeys | None = Field(None, description="Keys for this request only; never stored")
    corpora: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        None,
        max_length=MAX_CORPORA,
        description=f"Built-in corpora to include (at most {MAX_CORPORA}; a repeated name counts once); "
        "None means the engine's default",
    )
    sources: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH_CHARS)]] = Field(
        default_factory=list,
        max_length=MAX_SOURCES,
        description=f"Files, folders or globs on the server to research (at most {MAX_SOURCES}; only where the "
        "server allows it)",
    )

    @field_validator("corpora", "sources")
    @classmethod
    def _each_once(cls, value: list[str] | None) -> list[str] | None:
        """A name given twice counts once (it would otherwise index, and count, every document twice)."""
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("query")
    @classmethod
    def _query_is_a_question(cls, value: str) -> str:
        return checked_question(value)

    def options(self) -> ResearchOptions:
        return ResearchOptions.model_validate(self.model_dump(include=set(ResearchOptions.model_fields)))


class ResearchResponse(BaseModel):
    request_id: str
    status: str = "accepted"
    message: str
    stream_url: str | None = None
    report_url: str | None = None


class ErrorResponse(BaseModel):
    """Error body. `detail` is what existing clients read; `error` names the exception type."""

    detail: str | list[str]
    error: str | None = None
    request_id: str | None = None


RunStatus = Literal["processing", "completed", "failed", "cancelled"]


# -- the report on the wire ------------------------------------------------------------------------------------
# Existing clients validate the report against their own model and throw it all away when one field has another
# type, so these types are fixed by the wire contract. Richer data goes in fields of other names (they ignore
# extra fields): `cited` beside `citations`, `reference_details` beside `references`.


class WireSection(BaseModel):
    title: str
    content: str
    subsections: list[WireSection] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list, description='`[n] "quoted words"`, one per citation')
    cited: list[Citation] = Field(default_factory=list, description="The citations with their passage ids")


class WireSource(BaseModel):
    """One cited source in `metadata.source_summary`."""

    id: str
    title: str
    url: str | None = None
    origin: str | None = None
    attribution: str | None = None
    cited_as: list[int] = Field(default_factory=list, description="The reference numbers that point into it")


class CitationAudit(BaseModel):
    citations: int = Field(description="Citations in the report's sections")
    references: int
    sources_cited: int
    documents_searched: int
    unsupported_claims: int = Field(description="Claims dropped or flagged because no retrieved passage held them")


class WireMetadata(BaseModel):
    created_at: datetime
    version: str = Field(description="research-nb's version")
    authors: list[str]
    keywords: list[str]
    classification: str | None = None
    source_summary: list[WireSource]
    citation_audit: CitationAudit
    engine: str
    partial: bool = Field(description="The run was cancelled or failed: this is what it had gathered")


class WireReport(BaseModel):
    """`GET /research/{id}/report` and the `report` of the `complete` frame and of the status."""

    title: str
    executive_summary: str
    introduction: str
    methodology: str
    sections: list[WireSection]
    conclusion: str
    conclusions: str
    recommendations: list[str]
    references: list[str] = Field(description="`[n] Title — location — URL`")
    reference_details: list[Reference]
    appendices: dict[str, str] = Field(default_factory=dict)
    metadata: WireMetadata
    quality_score: float = Field(ge=0, le=1)
    markdown: str


class ResearchStatus(BaseModel):
    """`GET /research/{id}`. A run paused for clarifying questions is `processing` at stage `clarification`
    with `awaiting_clarification` set (the wire's status values are fixed by existing clients)."""

    request_id: str
    status: RunStatus
    stage: ResearchStage
    error: str | None = None
    report: WireReport | None = None
    awaiting_clarification: bool = False


class CancelResponse(BaseModel):
    """`DELETE /research/{id}`: `status` is the run's status afterwards (a finished run keeps its own)."""

    request_id: str
    status: RunStatus
    message: str
    task_cancelled: bool


class PendingClarification(BaseModel):
    """`GET /research/{id}/clarification` while a run waits for answers."""

    request_id: str
    state: Literal["awaiting_clarification"] = "awaiting_clarification"
    awaiting_response: bool = True
    clarification_request: ClarificationRequest
    original_query: str


class ClarificationAccepted(BaseModel):
    """`POST /research/{id}/clarification`: the answers fit and the run goes on."""

    request_id: str
    status: Literal["resumed"] = "resumed"
    message: str
    current_stage: ResearchStage


class HealthStatus(BaseModel):
    """`GET /health` (open even when the API wants a token)."""

    status: Literal["ok"] = "ok"
    version: str
    engines: list[str]
    active_runs: int
