"""The answer of a question the corpus's records decide, for a small model: composed by the offline engine's
composer from the passages its question analysis retrieved (names and figures quoted, fixed wording around),
then each statement checked by the llm engine's verifier like any claim a model wrote.

Why the composer and not the model: a 135M model cannot rank forty inflation rates, subtract two figures or
decide a yes/no test; it can choose which sentences support an answer, which it still does (`_engine`).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import TypeAdapter

from research_nb.engines._report import AnswerBlock, Line, Quote, plain
from research_nb.engines._text import sentences
from research_nb.engines.llm._verify import Claim, ClaimContext, Verdict, data_field, verify
from research_nb.models.research import Passage, ResearchState

ANSWER = "llm_answer"  # in the state: the composed answer's statements that passed verification
_LINES = TypeAdapter(list[tuple[str | Quote, ...]])


def verified_statements(
    answer: AnswerBlock, passages: Mapping[str, Passage], context: ClaimContext
) -> tuple[list[Line], list[Verdict]]:
    """The composed answer's statements that pass verification, and the verdicts on those that do not.

    A statement is checked whole, as a claim citing the passage of its first quote (and, for a comparison, that of
    the other side), quoting the sentence of each that holds the quoted words. One the whole check cannot read (a
    ranking or a year-by-year line quotes more passages than a claim cites; a "No" rests on what a list does not
    hold) is checked piece by piece: what it quotes from each passage, with that passage's field, must be a claim
    the passage supports (its subject, its field, its figures). The fixed wording around the pieces is the
    composer's, the same as in the offline engine's Answer."""
    kept: list[Line] = []
    refused: list[Verdict] = []
    for line in answer.statements:
        claim = _claim(line, passages)
        if claim is None:
            continue
        verdict = verify(claim, passages, context)
        if not verdict.supported:
            pieces = [verify(piece, passages, context) for piece in _pieces(line, passages)]
            verdict = next((v for v in pieces if not v.supported), verdict if not pieces else pieces[0])
        if verdict.supported:
            kept.append(line)
        else:
            refused.append(verdict)
    return kept, refused


def set_answer(state: ResearchState, statements: list[Line]) -> None:
    state.metadata[ANSWER] = _LINES.dump_python(statements, mode="json")


def answer_of(state: ResearchState) -> AnswerBlock | None:
    """The verified statements of the run's composed answer (None: the run has none)."""
    statements = _LINES.validate_python(state.metadata.get(ANSWER) or [])
    return AnswerBlock(tuple(statements)) if statements else None


def _claim(line: Line, passages: Mapping[str, Passage]) -> Claim | None:
    quotes = [p for p in line if isinstance(p, Quote) and p.cite] or [p for p in line if isinstance(p, Quote)]
    cited = list(dict.fromkeys(q.passage_id for q in quotes))
    if not cited:
        return None
    said = [_sentence(passages.get(pid), [q.text for q in quotes if q.passage_id == pid]) for pid in cited[:2]]
    second = (cited[1], said[1]) if len(cited) > 1 else ("", "")
    return Claim(
        text=plain(line), passage_id=cited[0], quote=said[0], second_passage_id=second[0], second_quote=second[1]
    )


def _pieces(line: Line, passages: Mapping[str, Passage]) -> list[Claim]:
    """What `line` quotes from each passage it cites, as one claim per passage: "Nigeria 244,344,065 (2025 est.)
    — Population" (the field named, as a claim about a figure must)."""
    cited = {p.passage_id for p in line if isinstance(p, Quote) and p.cite}
    quoted: dict[str, list[str]] = {}
    for part in line:  # a name shown only as a label ("Africa" of a region line) is no piece of its own
        if isinstance(part, Quote) and part.passage_id in cited:
            quoted.setdefault(part.passage_id, []).append(part.text)
    pieces = []
    for passage_id, texts in quoted.items():
        passage = passages.get(passage_id)
        quote = _sentence(passage, texts)
        data = data_field(quote)
        field = (passage.location.heading if passage else None) or (data[0] if data else "")
        text = " ".join(texts) + (f" — {field}" if field else "")
        pieces.append(Claim(text=text, passage_id=passage_id, quote=quote))
    return pieces


def _sentence(passage: Passage | None, quoted: list[str]) -> str:
    """The sentence of `passage` that holds the quoted words (the whole passage when no one sentence does)."""
    if passage is None:
        return " ".join(quoted)
    for sentence in sentences(passage.text):
        if all(q.casefold() in sentence.text.casefold() for q in quoted):
            return sentence.text
    return passage.text
