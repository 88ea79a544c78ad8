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
    IndexingProgress,
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
from research_nb.export import cited_numbers
from research_nb.models.research import PIPELINE, ResearchReport, ResearchStage, ResearchState, utcnow

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
# Share of the bar the indexing steps fill when a run has to index a corpus first (the stages share the rest).
_INDEXING_WEIGHT = 0.2
MAX_LOG_LINES = 20
MAX_SOURCES_SHOWN = 30  # the latest sources found, listed under the progress bar (the count covers all)


class ProgressView:
    """The state of one run's progress display, folded from its events."""

    def __init__(
        self, state: ResearchState, *, max_log_lines: int = MAX_LOG_LINES, max_sources: int = MAX_SOURCES_SHOWN
    ) -> None:
        self.request_id = state.request_id
        self.query = state.user_query
        self.engine = state.options.engine
        self.model = state.options.model or ""
        self.status: Status = "pending"
        self.stage = state.current_stage.value
        self.steps: dict[ResearchStage, StepState] = {
            s: ("done" if s in state.completed_stages else "pending") for s in PIPELINE
        }
        self.indexing: dict[str, IndexingProgress] = {}  # by corpus, in the order they began
        self.sub_questions: dict[str, dict[str, Any]] = {}
        self.source_ids: set[str] = set()
        self.sources: deque[dict[str, Any]] = deque(maxlen=max_sources)
        self.current_query = ""
        self.current_document = ""
        self.log: deque[str] = deque(maxlen=max_log_lines)
        self.usage = ""
        self.error = state.error_message or ""
        self.cancel_reason = state.cancel_reason or ""
        self.clarification: dict[str, Any] | None = None
        self.has_report = state.report is not None
        self.cited: dict[str, Any] | None = None
        # The clock counts research, not the wait for answers: the seconds of this leg of the run so far (a leg
        # ends when the run stops; a resumed run is a new leg, its clock starts at 0), and of the earlier legs.
        self.running_since: datetime | None = None
        self.leg_seconds = (state.duration_seconds() or 0.0) if state.is_finished else 0.0
        self.earlier_legs_seconds = 0.0
        self.last_seq = 0
        # a run shown after it stopped (in an earlier kernel, say) starts from what its state says
        if state.is_finished:
            self.status = state.current_stage.value  # type: ignore[assignment]
            if state.report is not None:
                self.show_report(state.report)
        elif state.awaiting_clarification and state.clarification is not None:
            self.status = "awaiting_clarification"
            self.clarification = state.clarification.model_dump(mode="json")

    # -- folding events -----------------------------------------------------------------------------------

    def apply(self, event: ResearchEvent) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        if isinstance(event, RunStarted):
            if self.finished:  # resumed after it stopped: a new leg
                self.earlier_legs_seconds += self.leg_seconds
                self.leg_seconds = 0.0
            self.status = "running"
            self.running_since = event.timestamp
            self.error = self.cancel_reason = ""
            self.clarification = None
            self.cited = None
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
        elif isinstance(event, IndexingProgress):
            self.indexing[event.corpus] = event
        elif isinstance(event, SubQuestionProgress):
            self.sub_questions[event.sub_question_id] = {
                "id": event.sub_question_id,
                "question": event.question,
                "status": event.status,
                "sources": event.sources_found,
            }
            searching = [row["question"] for row in self.sub_questions.values() if row["status"] == "searching"]
            self.current_query = searching[-1] if searching else ""
        elif isinstance(event, SourceFound):
            if event.source_id not in self.source_ids:
                self.source_ids.add(event.source_id)
                self.sources.append({"id": event.source_id, "title": event.title, "url": event.url or ""})
            self.current_document = event.title
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
            self._stop_clock(event.timestamp)
        elif isinstance(event, UsageUpdated):
            self.usage = _describe_usage(event)
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _stop_clock(self, at: datetime) -> None:
        if self.running_since is not None:
            self.leg_seconds += max(0.0, (at - self.running_since).total_seconds())
            self.running_since = None

    def _finish(self, event: RunFinished) -> None:
        self.status = event.status
        self.stage = event.stage.value
        self._stop_clock(event.timestamp)
        self.has_report = event.has_report
        self.clarification = None
        self.current_query = self.current_document = ""
        if event.status == "failed":
            self.error = event.error or self.error or "the run failed"
        elif event.status == "cancelled":
            self.cancel_reason = event.error or "Cancelled"
        for stage, step in self.steps.items():
            if step == "active":
                self.steps[stage] = "stopped" if event.status != "completed" else "done"

    def show_report(self, report: ResearchReport) -> None:
        """Count what the finished run's report cites: its `[n]` numbers (one per passage) and the documents
        they come from, so the widget's figures agree with the report under it."""
        numbers = sorted(cited_numbers(report))
        references = {r.number: r.source_id for r in report.references}
        documents = {references[n] for n in numbers if n in references}
        self.cited = {"passages": len(numbers), "documents": len(documents) or None, "numbers": numbers}

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def _indexing_now(self) -> IndexingProgress | None:
        """The corpus being indexed now, if the run waits on one."""
        running = [event for event in self.indexing.values() if not event.finished]
        return running[-1] if running and not self.finished else None

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
        if self.indexing:
            indexing = self._indexing_now()
            done = 1.0 if indexing is None else _fraction(indexing)
            total = _INDEXING_WEIGHT * done + (1 - _INDEXING_WEIGHT) * (total if indexing is None else 0.0)
        return round(min(total, 0.99), 3)

    def elapsed(self) -> float:
        """Seconds this leg of the run has been researching (not waiting for answers)."""
        running = (utcnow() - self.running_since).total_seconds() if self.running_since is not None else 0.0
        return round(self.leg_seconds + max(0.0, running), 1)

    def _steps(self) -> list[dict[str, Any]]:
        indexing_now = self._indexing_now()
        steps = [
            {
                "id": "indexing",
                "label": f"Indexing {event.corpus}",
                "state": "done" if event.finished else ("active" if event is indexing_now else "stopped"),
                "detail": _describe_indexing(event),
            }
            for event in self.indexing.values()
        ]
        for stage, step in self.steps.items():
            # the engine's first stage waits on the index: it is not under way until the index is ready
            shown = "pending" if indexing_now is not None and step == "active" else step
            steps.append({"id": stage.value, "label": STAGE_LABELS[stage], "state": shown, "detail": ""})
        return steps

    def traits(self) -> dict[str, Any]:
        """The widget's synced state (plain JSON)."""
        indexing_now = self._indexing_now()
        return {
            "request_id": self.request_id,
            "query": self.query,
            "engine": self.engine,
            "model_name": self.model,
            "status": self.status,
            "stage": "indexing" if indexing_now is not None else self.stage,
            "stages": self._steps(),
            "progress": self.progress(),
            "activity": self._activity(indexing_now),
            "sub_questions": list(self.sub_questions.values()),
            "total_sources": len(self.source_ids),
            "sources": list(self.sources),
            "cited": self.cited,
            "elapsed": self.elapsed(),
            "elapsed_before": round(self.earlier_legs_seconds, 1),
            "clock_running": self.running_since is not None,
            "log": list(self.log),
            "usage": self.usage,
            "error": self.error,
            "cancel_reason": self.cancel_reason,
            "clarification": self.clarification,
            "has_report": self.has_report,
        }

    def _activity(self, indexing: IndexingProgress | None) -> dict[str, str]:
        """What the run is doing now, in words: the corpus it indexes, the query it searches, what it read last."""
        if indexing is not None:
            return {"label": f"Indexing {indexing.corpus}", "text": _describe_indexing(indexing), "reading": ""}
        if self.status != "running":
            return {"label": "", "text": "", "reading": ""}
        if self.current_query:
            return {"label": "Searching", "text": self.current_query, "reading": self.current_document}
        label = next((STAGE_LABELS[stage] for stage in PIPELINE if stage.value == self.stage), "")
        return {"label": label, "text": "", "reading": self.current_document}


def _fraction(event: IndexingProgress) -> float:
    return min(1.0, event.files_done / event.files_total) if event.files_total else 0.0


def _describe_indexing(event: IndexingProgress) -> str:
    """'12 / 40 files · 3,100 passages · about 5 s left'."""
    parts = [f"{event.files_done:,} / {event.files_total:,} files" if event.files_total else "reading files"]
    if event.passages:
        parts.append(f"{event.passages:,} passages")
    if event.finished:
        parts.append("ready")
    elif event.seconds_left is not None:
        parts.append(f"about {max(1, round(event.seconds_left)):,} s left")
    return " · ".join(parts)


def _describe_usage(event: UsageUpdated) -> str:
    tokens = event.input_tokens + event.output_tokens
    text = f"{tokens:,} tokens in {event.requests} request{'s' if event.requests != 1 else ''}"
    return text + (f" (${event.cost_usd:.4f})" if event.cost_usd is not None else "")
