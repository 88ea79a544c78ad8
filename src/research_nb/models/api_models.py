"""The request and response models every front shares (notebook magic, HTTP API, CLI). Defined once here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from research_nb.models.clarification import ClarificationRequest
from research_nb.models.research import (
    MAX_QUERY_CHARS,
    ResearchOptions,
    ResearchReport,
    ResearchStage,
    checked_question,
)


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


class ResearchRequest(ResearchOptions):
    """A request to research `query`. The engine options are inherited from `ResearchOptions`."""

    query: str = Field(
        description="The research question (1..5000 characters after stripping)",
        # what the validator below enforces, for the published schema: some non-space text, at most 5000 long
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": r"\S"},
    )
    stream: bool = Field(True, description="Whether the client will follow the event stream")
    api_keys: APIKeys | None = Field(None, description="Keys for this request only; never stored")

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


class ResearchStatus(BaseModel):
    """`GET /research/{id}`. A run paused for clarifying questions is `processing` at stage `clarification`
    with `awaiting_clarification` set (the wire's status values are fixed by existing clients)."""

    request_id: str
    status: RunStatus
    stage: ResearchStage
    error: str | None = None
    report: ResearchReport | None = None
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
