"""Clarifying questions and their answers.

The shapes follow the HTTP wire contract (`http-contract.md`): the widget and the HTTP API exchange exactly these
models, so a question asked in one front can be answered in another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, Field


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ClarificationChoice(BaseModel):
    id: str
    label: str
    requires_details: bool = False
    is_other: bool = False
    details_prompt: str | None = None


class ClarificationQuestion(BaseModel):
    id: str
    question: str
    is_required: bool = False
    question_type: Literal["text", "choice", "multi_choice"] = "text"
    choices: list[ClarificationChoice] | None = None
    context: str | None = None
    order: int = 0


class ClarificationRequest(BaseModel):
    """The questions a run is paused on."""

    id: str = Field(default_factory=lambda: uuid4().hex)
    questions: list[ClarificationQuestion]
    created_at: datetime = Field(default_factory=_utcnow)
    context: str | None = None

    def problems_with(self, response: ClarificationResponse) -> list[str]:
        """Everything wrong with `response` as an answer to these questions; empty when it is acceptable."""
        problems: list[str] = []
        if response.request_id != self.id:
            problems.append(f"answers are for clarification {response.request_id!r}, not {self.id!r}")
        by_id = {q.id: q for q in self.questions}
        answered: dict[str, ClarificationAnswer] = {}
        for answer in response.answers:
            question = by_id.get(answer.question_id)
            if question is None:
                problems.append(f"unknown question id {answer.question_id!r}")
                continue
            answered[answer.question_id] = answer
            problems.extend(_answer_problems(question, answer))
        for question in self.questions:
            given = answered.get(question.id)
            if question.is_required and (given is None or given.skipped or given.is_empty()):
                problems.append(f"question {question.id!r} is required: {question.question}")
        return problems


#: Bounds on answers (the wire contract's 2,000 characters for a text), so no answer can be unbounded.
MAX_ANSWER_CHARS = 2000
MAX_ANSWERS = 50
_ID_CHARS = 200


class ChoiceSelection(BaseModel):
    id: str = Field(max_length=_ID_CHARS)
    details: str | None = Field(None, max_length=MAX_ANSWER_CHARS)


class ClarificationAnswer(BaseModel):
    question_id: str = Field(max_length=_ID_CHARS)
    text: str | None = Field(None, max_length=MAX_ANSWER_CHARS)
    selection: ChoiceSelection | None = None
    selections: list[ChoiceSelection] | None = Field(None, max_length=MAX_ANSWERS)
    skipped: bool = False

    def is_empty(self) -> bool:
        return not ((self.text or "").strip() or self.selection or self.selections)

    def as_text(self, question: ClarificationQuestion) -> str:
        """The answer in words, for engines that fold answers into the research question."""
        if self.skipped:
            return ""
        labels = {c.id: c.label for c in question.choices or []}
        picked = [self.selection] if self.selection else list(self.selections or [])
        parts = [" ".join(filter(None, [labels.get(s.id, s.id), s.details])) for s in picked]
        if self.text and self.text.strip():
            parts.append(self.text.strip())
        return "; ".join(parts)


class ClarificationResponse(BaseModel):
    """Answers by question id; `request_id` is the `ClarificationRequest.id` being answered."""

    request_id: str = Field(max_length=_ID_CHARS)
    answers: list[ClarificationAnswer] = Field(default_factory=list, max_length=MAX_ANSWERS)


def _answer_problems(question: ClarificationQuestion, answer: ClarificationAnswer) -> list[str]:
    if answer.skipped:
        return []
    choice_ids = {c.id: c for c in question.choices or []}
    picked: list[ChoiceSelection] = []
    if question.question_type == "text":
        if answer.selection or answer.selections:
            return [f"question {question.id!r} takes text, not a selection"]
        return []
    if question.question_type == "choice":
        if answer.selections:
            return [f"question {question.id!r} takes one selection, not several"]
        picked = [answer.selection] if answer.selection else []
    else:
        if answer.selection:
            picked = [answer.selection]
        picked += list(answer.selections or [])
    problems = []
    for selection in picked:
        choice = choice_ids.get(selection.id)
        if choice is None:
            problems.append(f"question {question.id!r} has no choice {selection.id!r}")
        elif choice.requires_details and not (selection.details or "").strip():
            problems.append(f"choice {selection.id!r} of question {question.id!r} needs details")
    return problems
