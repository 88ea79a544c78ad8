"""Extractive compression: pick the sentences that answer a sub-question, and the side-by-side fields.

Every finding is a whole sentence cut from a retrieved passage (so its citation is true by construction).
Sentences are scored by the IDF-weighted overlap of their terms with the sub-question plus a prior from the
passage's search rank, near-duplicates are dropped, and the rest are chosen by maximal marginal relevance so a
section does not repeat itself. Output is in reading order and fully deterministic (ties break on ids/offsets).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from research_nb.engines._fields import FIELD_LINE
from research_nb.engines._text import Sentence, jaccard, sentences, terms
from research_nb.models.research import Finding, Passage, SubQuestion

FINDINGS_PER_SUB_QUESTION = 6
_MMR_LAMBDA = 0.7
_COVERAGE = 1.5
_DUPLICATE = 0.8
_SAME_DOCUMENT = 0.5
_SEED_DOCUMENTS = 4


@dataclass(frozen=True)
class _Candidate:
    sentence: Sentence
    passage: Passage
    passage_rank: int
    terms: frozenset[str]
    score: float


def select_findings(
    sub_question: SubQuestion,
    passages: Sequence[Passage],
    limit: int = FINDINGS_PER_SUB_QUESTION,
    document_titles: Mapping[str, str] | None = None,
    named: Collection[str] = (),
) -> list[Finding]:
    """The best `limit` sentences of `passages` (ranked best first) for `sub_question`, in reading order.
    `document_titles` (document id -> title) lets a sentence count its document's subject as said; with `named`
    documents (the ones the question names), other documents are quoted only where they share its words."""
    query_terms = _query_terms(sub_question)
    candidates = _candidates(passages, query_terms, document_titles or {}, named)
    chosen = _mmr(candidates, limit, seeds=_best_of_top_documents(candidates, _SEED_DOCUMENTS), asked=set(query_terms))
    chosen.sort(key=lambda c: (_document_order(c, passages), c.passage.location.start or 0, c.sentence.start))
    return [
        Finding(sub_question_id=sub_question.id, text=c.sentence.text, passage_ids=[c.passage.id], score=c.score)
        for c in chosen
    ]


def scored_sentences(
    sub_question: SubQuestion, passages: Sequence[Passage], document_titles: Mapping[str, str] | None = None
) -> list[Finding]:
    """Every usable sentence of `passages` (ranked best first), scored as `select_findings` scores them: the
    Answer reads past the chosen findings, for the sentence that holds what the question asks."""
    return [
        Finding(sub_question_id=sub_question.id, text=c.sentence.text, passage_ids=[c.passage.id], score=c.score)
        for c in _candidates(passages, _query_terms(sub_question), document_titles or {}, ())
    ]


def _query_terms(sub_question: SubQuestion) -> Counter[str]:
    query_terms = Counter(terms(" ".join([sub_question.question, *sub_question.queries])))
    if sub_question.entity:
        for term in terms(sub_question.entity):
            query_terms.pop(term, None)  # the entity's own name says nothing about relevance inside its documents
    return query_terms


def _candidates(
    passages: Sequence[Passage],
    query_terms: Counter[str],
    document_titles: Mapping[str, str],
    named: Collection[str],
) -> list[_Candidate]:
    pool: list[tuple[Sentence, Passage, int, frozenset[str]]] = []
    about: dict[str, frozenset[str]] = {}  # what each document is about, by its title
    for rank, passage in enumerate(passages):
        about.setdefault(passage.document_id, frozenset(terms(document_titles.get(passage.document_id, ""))))
        for sentence in _usable(passage.text, sentences(passage.text)):
            pool.append((sentence, passage, rank, frozenset(terms(sentence.text))))
    if not pool:
        return []
    document_frequency = Counter(t for *_, ts in pool for t in ts)
    n = len(pool)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
    total_query = sum(idf.get(t, 0.0) for t in query_terms) or 1.0
    top_score = max((p.score for p in passages), default=0.0) or 1.0
    scored = []
    for sentence, passage, rank, sentence_terms in pool:
        if named and passage.document_id not in named and not any(t in sentence_terms for t in query_terms):
            continue  # beside the documents the question names, another one must speak to the question itself
        # A sentence says its document's subject implicitly: "Exports: $922 billion" in the document "Japan" is
        # about Japan's exports.
        implied = sentence_terms | about[passage.document_id]
        overlap = sum(idf.get(t, 0.0) for t in query_terms if t in implied) / total_query
        prior = 0.5 * max(passage.score, 0.0) / top_score + 0.5 / (1 + rank)
        length_penalty = 0.15 if len(sentence_terms) < 3 else 0.0
        scored.append(_Candidate(sentence, passage, rank, sentence_terms, overlap + 0.6 * prior - length_penalty))
    return scored


def _usable(text: str, found: list[Sentence]) -> list[Sentence]:
    """Drop what is not a statement: editorial notes, and all but the first data line of a passage (a field's
    first line is its newest value; the older years and sub-fields would read as near-repeats). A data line is
    dropped whole, every sentence of it ("Languages, samples: Das World Factbook... (German) The World...")."""
    kept: list[Sentence] = []
    first_data_line: int | None = None
    for sentence in found:
        line_start = text.rfind("\n", 0, sentence.start) + 1
        line_end = text.find("\n", sentence.start)
        match = FIELD_LINE.match(text[line_start : line_end if line_end >= 0 else len(text)])
        if match is not None:
            if match.group("field").strip().lower().startswith("note"):
                continue
            first_data_line = line_start if first_data_line is None else first_data_line
            if line_start != first_data_line:
                continue
        kept.append(sentence)
    return kept


def _best_of_top_documents(candidates: list[_Candidate], count: int) -> list[_Candidate]:
    """The best sentence of each of the `count` best-ranked documents: every strong source is heard, including a
    document reached by following a link, whose sentences share few words with the question."""
    best: dict[str, _Candidate] = {}
    for candidate in sorted(candidates, key=_candidate_order):
        best.setdefault(candidate.passage.document_id, candidate)
    ranked = sorted(best.values(), key=lambda c: (c.passage_rank, c.passage.id))
    return ranked[:count]


def _candidate_order(c: _Candidate) -> tuple[float, int, str, int]:
    return (-c.score, c.passage_rank, c.passage.id, c.sentence.start)


def _mmr(candidates: list[_Candidate], limit: int, seeds: list[_Candidate], asked: set[str]) -> list[_Candidate]:
    chosen: list[_Candidate] = seeds[:limit]
    uncovered = asked - {t for c in chosen for t in c.terms}
    remaining = sorted((c for c in candidates if c not in chosen), key=_candidate_order)
    seen_texts: set[str] = {c.sentence.text.casefold() for c in chosen}
    while remaining and len(chosen) < limit:
        best: _Candidate | None = None
        best_value = -math.inf
        for candidate in remaining:
            similarity = max((_similarity(candidate, c) for c in chosen), default=0.0)
            # What it says of the question that no chosen sentence says yet: in a multi-hop question that is the
            # half about the other document.
            adds = len(candidate.terms & uncovered) / len(asked) if asked else 0.0
            value = _MMR_LAMBDA * candidate.score - (1 - _MMR_LAMBDA) * similarity + _COVERAGE * adds
            if value > best_value:
                best, best_value = candidate, value
        assert best is not None
        remaining.remove(best)
        key = best.sentence.text.casefold()
        if key in seen_texts or any(jaccard(best.terms, c.terms) >= _DUPLICATE for c in chosen):
            continue
        seen_texts.add(key)
        chosen.append(best)
        uncovered -= best.terms
    return chosen


def _similarity(a: _Candidate, b: _Candidate) -> float:
    """Shared terms, with a floor for two sentences of one document: a section should hear from several
    sources (in multi-hop questions the answer sits in the second document, not in the first one's details)."""
    same_document = _SAME_DOCUMENT if a.passage.document_id == b.passage.document_id else 0.0
    return max(jaccard(a.terms, b.terms), same_document)


def _document_order(candidate: _Candidate, passages: Sequence[Passage]) -> int:
    """Sections follow the best-ranked document first; within a document, reading order."""
    for index, passage in enumerate(passages):
        if passage.document_id == candidate.passage.document_id:
            return index
    return len(passages)
