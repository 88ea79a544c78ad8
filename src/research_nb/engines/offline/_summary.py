"""The Answer of a researched (not planned) question: the sentences that answer it, first.

A question says what kind of thing answers it: "who" or "which" a name, "when" a date, "how many" a number. A
sentence that holds such a thing and the question does not (a name it never mentions, a year) is more likely the
answer than one that restates the question's own names; among sentences of equal relevance, it comes first. One
sentence per document first, so that the document a multi-hop question leads to is heard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from research_nb.engines._text import words
from research_nb.models.research import Finding, ResearchState

_SENTENCES_ONE_PART = 3
_ANSWER_BONUS = 0.25
_YEAR = re.compile(r"\b(?:1[0-9]|20)\d{2}\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NAME = re.compile(r"\b[A-Z][\w'’-]+")


def answer_sentences(state: ResearchState, findings: Sequence[Finding]) -> list[Finding]:
    """Up to three sentences for a one-part question (one per document first), one per part otherwise."""
    parts = state.brief.sub_questions if state.brief else []
    question = state.user_query  # what kind of thing answers it is the whole question's
    chosen: list[Finding] = []
    groups = [[f for f in findings if f.sub_question_id == sub.id] for sub in parts] or [list(findings)]
    for own in groups:
        ranked = sorted(own, key=lambda f: (-_score(f, question), f.passage_ids[0]))
        firsts: dict[str, Finding] = {}
        for finding in ranked:
            firsts.setdefault(_document(state, finding), finding)
        ordered = [*firsts.values(), *(f for f in ranked if f not in firsts.values())]
        chosen += ordered[: _SENTENCES_ONE_PART if len(parts) <= 1 else 1]
    return chosen


def _score(finding: Finding, question: str) -> float:
    return finding.score + (_ANSWER_BONUS if _holds_answer(finding.text, question) else 0.0)


def _holds_answer(sentence: str, question: str) -> bool:
    """Whether the sentence holds a thing of the kind the question asks for that the question itself lacks."""
    said = words(question)
    asked = set(said)
    if "when" in asked or "year" in asked:
        return any(y not in question for y in _YEAR.findall(sentence))
    if {"many", "much", "number", "old", "long"} & asked and said[:1] == ["how"]:
        return any(n not in question for n in _NUMBER.findall(sentence))
    if said[:1] and said[0] in ("who", "whom", "whose", "which", "what", "where"):
        known = question.lower()
        names = [m.group(0) for m in _NAME.finditer(sentence) if m.start() > 0]  # not the sentence's first word
        return any(name.lower() not in known for name in names)
    return False


def _document(state: ResearchState, finding: Finding) -> str:
    passage = state.passage(finding.passage_ids[0])
    return passage.document_id if passage else finding.passage_ids[0]
