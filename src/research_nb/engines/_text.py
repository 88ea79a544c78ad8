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
    return [word for word, _, _ in word_spans(text)]


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """`words(text)`, each with where it stands in `text` (start, end)."""
    return [(m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]


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
    """Split a passage into whole sentences.

    A line break ends a sentence only where the text's layout says so (a blank line, a list item, a heading, a
    `Field: value` line); inside a hard-wrapped paragraph it is just a space, so no sentence is cut at the
    wrap. A short unpunctuated first line standing alone (a document's title) is not a sentence.
    """
    found: list[Sentence] = []
    blocks = _blocks(text)
    for index, (start, end) in enumerate(blocks):
        block = text[start:end]
        if index == 0 and len(blocks) > 1 and _is_title(block):
            continue
        cursor = 0
        for match in _BOUNDARY.finditer(block):
            candidate = block[cursor : match.start()].rstrip()
            if _ABBREVIATION.search(candidate) and not candidate.endswith(("!", "?")):
                continue
            _append(found, block, start, cursor, match.start())
            cursor = match.end()
        _append(found, block, start, cursor, len(block))
    return found


_HARD_LINE = re.compile(r"^\s*(?:[-*•+]\s|#|\d+[.)]\s|[^:\n]{2,80}:\s+\S)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")
_END_PUNCTUATION = tuple(".!?:;\"”)’'")


def _blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each run of lines that reads as one piece of prose."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    previous_hard = False
    offset = 0
    for line in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        if not body.strip():
            if start is not None:
                blocks.append((start, line_start))
            start, previous_hard = None, False
            continue
        hard = bool(_HARD_LINE.match(body))
        if start is not None and (hard or previous_hard):
            blocks.append((start, line_start))
            start = None
        if start is None:
            start = line_start
        previous_hard = hard
    if start is not None:
        blocks.append((start, len(text)))
    return blocks


def _is_title(block: str) -> bool:
    stripped = block.strip()
    return (
        "\n" not in stripped
        and not stripped.endswith(_END_PUNCTUATION)
        and len(words(stripped)) <= 12
        and (not _HARD_LINE.match(stripped) or stripped.startswith("#"))
    )


def _append(found: list[Sentence], block: str, block_start: int, start: int, end: int) -> None:
    piece = block[start:end]
    marker = _LIST_MARKER.match(piece)
    if marker:  # the sentence is the item, not its bullet
        start += marker.end()
        piece = block[start:end]
    stripped = piece.strip()
    if len(words(stripped)) < 2:
        return
    lead = len(piece) - len(piece.lstrip())
    begin = block_start + start + lead
    found.append(Sentence(stripped, begin, begin + len(stripped)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
