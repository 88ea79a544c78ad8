"""Answers from prose: a yes/no question about two or more named things ("Are A and B both American?").

For each thing the question names, the sentence of its own document that says most of what the question asks
("American", "film director") is found; the answer is yes when every one of them says each name-like word of
the question ("British") and at least half of its other words, and the sentences are shown as the evidence,
each with its citation. "Of the same nationality" compares the capitalised
words each one's first sentence gives ("American musician", "English presenter").
"""

from __future__ import annotations

from collections.abc import Sequence

from research_nb.engines._report import AnswerBlock, EvidenceSection, Line, Quote, document_title
from research_nb.engines._text import Sentence, sentences, terms, words
from research_nb.engines.offline._plan import YESNO_OPENERS
from research_nb.models.research import Passage

_NOT_ASKED = frozenset(terms("both same all also either each other known"))


def yes_no_answer(
    question: str, names: Sequence[str], documents: Sequence[str], passages: Sequence[Passage]
) -> AnswerBlock | None:
    """The yes/no answer to `question` about the `documents` it names (ids, with their `names`), or None when it
    is not such a question or a document was not retrieved."""
    said = words(question)
    if len(documents) < 2 or not said or said[0] not in YESNO_OPENERS:
        return None
    named = {t for name in names for t in terms(name)}
    asked = [t for t in dict.fromkeys(terms(question)) if t not in named and t not in _NOT_ASKED]
    evidence: list[tuple[Passage, Sentence, set[str]]] = []
    for document_id in documents:
        own = [p for p in passages if p.document_id == document_id]
        best = _best_sentence(own, asked)
        if best is None:
            return None
        evidence.append(best)
    if "same" in said:
        kinds = [_descriptors(passage, sentence, named) for passage, sentence, _ in evidence]
        yes = all(kinds) and bool(set.intersection(*kinds))
    else:
        # A name-like word ("British", "Christian") must be said of each; of the plain words ("jazz musicians")
        # half will do, since a source says "jazz pianist" where the question says "jazz musician".
        hard = {t for w in question.split()[1:] if w[:1].isupper() for t in terms(w)} - named
        soft = set(asked) - hard
        yes = all(hard <= found and 2 * len(soft & found) >= len(soft) for *_, found in evidence)
    statement: list[str | Quote] = ["Yes: " if yes else "No: "]
    lines: list[Line] = []
    for n, (passage, sentence, _) in enumerate(evidence):
        title = document_title(passage.title)
        pair: Line = (Quote(title, passage.id, cite=False), " — ", Quote(sentence.text, passage.id))
        statement += [*("; " if n else ""), *pair]
        lines.append(pair)
    return AnswerBlock((tuple(statement),), (EvidenceSection(title="Evidence", lines=tuple(lines)),))


def _best_sentence(passages: Sequence[Passage], asked: Sequence[str]) -> tuple[Passage, Sentence, set[str]] | None:
    """The sentence saying most of `asked` (the first one on a tie), with the asked terms its document says."""
    best: tuple[int, int, Passage, Sentence] | None = None
    said: set[str] = set()
    for passage in passages:
        for position, sentence in enumerate(sentences(passage.text)):
            found = set(terms(sentence.text)) & set(asked)
            said |= found
            if best is None or (len(found), -position) > (best[0], best[1]):
                best = (len(found), -position, passage, sentence)
    return None if best is None else (best[2], best[3], said)


def _descriptors(passage: Passage, sentence: Sentence, named: set[str]) -> set[str]:
    """Capitalised words the document's first sentence (else `sentence`) uses beside the names ("American",
    "English"): what 'the same' compares."""
    first = next(iter(sentences(passage.text)), sentence)
    tokens = first.text.split()
    return {
        w.strip(",.;:()\"'").lower()
        for i, w in enumerate(tokens)
        if i and w[:1].isupper() and not (set(terms(w)) & named)
    }
