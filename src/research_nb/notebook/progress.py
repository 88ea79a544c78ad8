"""What the progress widget shows, computed from a run's events. Pure: no widget, no asyncio.

The widget's synced traits are exactly `ProgressView.traits()`, so what a browser sees can be tested here
without a browser.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any, Literal

from research_nb.core.events import (
    ClarificationRequested,
    ErrorRaised,
    LogMessage,
    ResearchEvent,
    RunFinished,
    RunPaused,
    RunStarted,
    SourceFound,
    StageFinished,
    StageStarted,
    SubQuestionProgress,
    UsageUpdated,
    WarningRaised,
)
from research_nb.models.research import PIPELINE, ResearchStage, ResearchState, utcnow

Status = Literal["pending", "running", "awaiting_clarification", "completed", "failed", "cancelled"]
StepState = Literal["pending", "active", "done", "failed", "stopped"]

STAGE_LABELS: dict[ResearchStage, str] = {
    ResearchStage.CLARIFICATION: "Clarify",
    ResearchStage.BRIEF_GENERATION: "Plan",
    ResearchStage.RESEARCH_EXECUTION: "Search",
    ResearchStage.COMPRESSION: "Select",
    ResearchStage.REPORT_GENERATION: "Write",
}
# Share of the progress bar each stage fills; searching is most of a run.
_STAGE_WEIGHTS: dict[ResearchStage, float] = {
    ResearchStage.CLARIFICATION: 0.05,
    ResearchStage.BRIEF_GENERATION: 0.10,
    ResearchStage.RESEARCH_EXECUTION: 0.60,
    ResearchStage.COMPRESSION: 0.10,
    ResearchStage.REPORT_GENERATION: 0.15,
}
MAX_LOG_LINES = 20


class ProgressView:
    """The state of one run's progress display, folded from its events."""

    def __init__(self, state: ResearchState, *, max_log_lines: int = MAX_LOG_LINES) -> None:
        self.query = state.user_query
        self.engine = state.options.engine
        self.status: Status = "pending"
        self.stage = state.current_stage.value
        self.steps: dict[ResearchStage, StepState] = {
            s: ("done" if s in state.completed_stages else "pending") for s in PIPELINE
        }
        self.sub_questions: dict[str, dict[str, Any]] = {}
        self.source_ids: set[str] = set()
        self.log: deque[str] = deque(maxlen=max_log_lines)
        self.usage = ""
        self.error = state.error_message or ""
        self.cancel_reason = state.cancel_reason or ""
        self.clarification: dict[str, Any] | None = None
        self.has_report = state.report is not None
        self.started_at: datetime | None = state.started_at
        self.finished_at: datetime | None = state.completed_at
        self.duration: float | None = state.duration_seconds() if state.is_finished else None
        self.last_seq = 0
        # a run shown after it stopped (in an earlier kernel, say) starts from what its state says
        if state.is_finished:
            self.status = state.current_stage.value  # type: ignore[assignment]
        elif state.awaiting_clarification and state.clarification is not None:
            self.status = "awaiting_clarification"
            self.clarification = state.clarification.model_dump(mode="json")

    # -- folding events -----------------------------------------------------------------------------------

    def apply(self, event: ResearchEvent) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        if isinstance(event, RunStarted):
            self.status = "running"
            self.started_at = self.started_at or event.timestamp
            self.finished_at = self.duration = None
            self.error = self.cancel_reason = ""
            self.clarification = None
            self.steps = {
                s: ("pending" if st in ("active", "failed", "stopped") else st) for s, st in self.steps.items()
            }
        elif isinstance(event, StageStarted):
            self.stage = event.stage.value
            if event.stage in self.steps:
                self.steps[event.stage] = "active"
        elif isinstance(event, StageFinished):
            if event.stage in self.steps:
                self.steps[event.stage] = "done" if event.success else "stopped"
            if event.stage is ResearchStage.CLARIFICATION and event.success:
                self.clarification = None
        elif isinstance(event, SubQuestionProgress):
            self.sub_questions[event.sub_question_id] = {
                "id": event.sub_question_id,
                "question": event.question,
                "status": event.status,
                "sources": event.sources_found,
            }
        elif isinstance(event, SourceFound):
            self.source_ids.add(event.source_id)
        elif isinstance(event, LogMessage):
            self.log.append(event.message)
        elif isinstance(event, WarningRaised):
            self.log.append(f"warning: {event.message}")
        elif isinstance(event, ErrorRaised):
            self.log.append(f"error: {event.message}")
            self.error = event.message
            if event.stage in self.steps:
                self.steps[event.stage] = "failed"
        elif isinstance(event, ClarificationRequested):
            self.clarification = event.clarification.model_dump(mode="json")
        elif isinstance(event, RunPaused):
            self.status = "awaiting_clarification"
        elif isinstance(event, UsageUpdated):
            self.usage = _describe_usage(event)
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _finish(self, event: RunFinished) -> None:
        self.status = event.status
        self.stage = event.stage.value
        self.finished_at = event.timestamp
        self.duration = event.duration
        self.has_report = event.has_report
        self.clarification = None
        if event.status == "failed":
            self.error = event.error or self.error or "the run failed"
        elif event.status == "cancelled":
            self.cancel_reason = event.error or "Cancelled"
        for stage, step in self.steps.items():
            if step == "active":
                self.steps[stage] = "stopped" if event.status != "completed" else "done"

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def progress(self) -> float:
        if self.status == "completed":
            return 1.0
        total = 0.0
        for stage, step in self.steps.items():
            weight = _STAGE_WEIGHTS[stage]
            if step == "done":
                total += weight
            elif step == "active" and stage is ResearchStage.RESEARCH_EXECUTION and self.sub_questions:
                ended = sum(1 for row in self.sub_questions.values() if row["status"] in ("done", "failed"))
                total += weight * ended / len(self.sub_questions)
        return round(min(total, 0.99), 3)

    def elapsed(self) -> float:
        if self.duration is not None:
            return round(self.duration, 1)
        if self.started_at is None:
            return 0.0
        return round(((self.finished_at or utcnow()) - self.started_at).total_seconds(), 1)

    def traits(self) -> dict[str, Any]:
        """The widget's synced state (plain JSON)."""
        return {
            "query": self.query,
            "engine": self.engine,
            "status": self.status,
            "stage": self.stage,
            "stages": [
                {"id": stage.value, "label": STAGE_LABELS[stage], "state": step} for stage, step in self.steps.items()
            ],
            "progress": self.progress(),
            "sub_questions": list(self.sub_questions.values()),
            "total_sources": len(self.source_ids),
            "elapsed": self.elapsed(),
            "log": list(self.log),
            "usage": self.usage,
            "error": self.error,
            "cancel_reason": self.cancel_reason,
            "clarification": self.clarification,
            "has_report": self.has_report,
        }


def _describe_usage(event: UsageUpdated) -> str:
    tokens = event.input_tokens + event.output_tokens
    text = f"{tokens:,} tokens in {event.requests} request{'s' if event.requests != 1 else ''}"
    return text + (f" (${event.cost_usd:.4f})" if event.cost_usd is not None else "")
