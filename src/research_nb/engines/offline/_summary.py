"""The Answer of a researched (not planned) question: the sentences that answer it, first.

A question says what kind of thing answers it: "who" or "which" a name, "when" a date, "how many" a number. A
sentence that holds such a thing and the question does not (a name it never mentions, a year) is more likely the
answer than one that restates the question's own names; among sentences of equal relevance, it comes first. One
sentence per document first, so that the document a multi-hop question leads to is heard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from research_nb.engines._report import document_title
from research_nb.engines._text import terms, words
from research_nb.models.research import Finding, ResearchState

_SENTENCES_ONE_PART = 3
_ANSWER_BONUS = 0.25
_COVER_WEIGHT = 0.5
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
        chosen += _covering(state, own, question, _SENTENCES_ONE_PART if len(parts) <= 1 else 1)
    return chosen


def _covering(state: ResearchState, findings: Sequence[Finding], question: str, count: int) -> list[Finding]:
    """`count` sentences, greedily: each one the best by its own score plus what it adds of the question's words
    that the sentences before it did not say (a multi-hop question's words are split between two documents:
    the second sentence should be the one about the other half). One sentence per document while others are left."""
    asked = set(terms(question))
    document: dict[int, str] = {}
    said: dict[int, set[str]] = {}
    for finding in findings:
        passage = state.passage(finding.passage_ids[0])
        document[id(finding)] = passage.document_id if passage else finding.passage_ids[0]
        # A sentence says its document's subject too ("He starred in ..." in the document "Mos Def").
        subject = document_title(passage.title) if passage else ""
        said[id(finding)] = (set(terms(finding.text)) | set(terms(subject))) & asked
    score = {id(f): _score(f, question) for f in findings}
    counts = {t: sum(t in ts for ts in said.values()) for t in asked}
    total = sum(1.0 / (1 + c) for c in counts.values()) or 1.0
    weights = {t: 1.0 / (1 + c) / total for t, c in counts.items()}  # a word few sentences say counts more
    chosen: list[Finding] = []
    uncovered = set(asked)
    while len(chosen) < count:
        documents = {document[id(f)] for f in chosen}
        left = [f for f in findings if f not in chosen]
        fresh = [f for f in left if document[id(f)] not in documents] or left
        if not fresh:
            break
        # max() keeps the first of equals, and `findings` come in a fixed order: the choice is deterministic.
        best = max(fresh, key=lambda f: score[id(f)] + _COVER_WEIGHT * _gain(said[id(f)] & uncovered, weights))
        chosen.append(best)
        uncovered -= said[id(best)]
    return chosen


def _gain(new_words: set[str], weights: dict[str, float]) -> float:
    return sum(weights[t] for t in new_words)


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
