"""Word-level text helpers for the offline engine: terms, sentences, near-duplicates.

Terms are the corpus index's own (stemmed, stop words removed), so "economies" and "economy" match.
Sentences keep their character offsets inside the passage, because a citation must quote its passage exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from research_nb.sources._text import analyze

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)

#: Words that carry no topic in a research question, beyond the index's own stop words: question words,
#: research verbs, and words that only ask for a comparison.
STOPWORDS = frozenset(
    (
        "a about after all also an and any are as at be been but by can could did do does for from had has have "
        "how i if in into is it its me my no not of on or our so such than that the their them then there these "
        "they this those to was we were what when where which while who whom whose why will with would you your "
        "tell explain describe give show find list know want like please research information whats what's done"
    ).split()
)
COMPARISON_WORDS = frozenset(
    (
        "compare compared comparing comparison differ differs difference differences different versus vs "
        "contrast contrasted similar similarities similarity between"
    ).split()
)
_IGNORED_TERMS = frozenset(analyze(" ".join(STOPWORDS | COMPARISON_WORDS)))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, numbers kept whole ("3.6%", "91,100")."""
    return [m.group(0).lower().replace("’", "'") for m in _WORD.finditer(text)]


def terms(text: str) -> list[str]:
    """The index's terms of `text` (stemmed, as the corpus analyses it) minus question and comparison words."""
    return [t for t in analyze(text) if t not in _IGNORED_TERMS]


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset of the sentence inside its passage text
    end: int


# A sentence ends at . ! or ? followed by space and a capital, digit or quote, unless the dot ends a short
# abbreviation ("e.g.", "U.S.", "est.", "approx.") or an initial.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"”')\]]?\s+(?=[A-Z0-9\"“(\[])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Za-z]\.){1,3}|\b(?:est|approx|incl|e\.g|i\.e|vs|etc|no|St|Mr|Mrs|Dr|Jr|Sr|Inc|Co|Ltd)\.)$"
)


def sentences(text: str) -> list[Sentence]:
    """Split a passage into whole sentences; every line is at least its own sentence (fields, list items)."""
    found: list[Sentence] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        line_start = offset
        offset += len(line)
        start = 0
        body = line.rstrip("\r\n")
        for match in _BOUNDARY.finditer(body):
            candidate = body[start : match.start()].rstrip()
            if _ABBREVIATION.search(candidate) and not candidate.endswith(("!", "?")):
                continue
            _append(found, body, line_start, start, match.start())
            start = match.end()
        _append(found, body, line_start, start, len(body))
    return found


def _append(found: list[Sentence], body: str, line_start: int, start: int, end: int) -> None:
    piece = body[start:end]
    stripped = piece.strip()
    if len(words(stripped)) < 2:
        return
    lead = len(piece) - len(piece.lstrip())
    begin = line_start + start + lead
    found.append(Sentence(stripped, begin, begin + len(stripped)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
