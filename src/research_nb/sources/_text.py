"""Text helpers shared by the loaders and the index: analysis (tokens for BM25), HTML fragments, passage splitting.

The analyser is the one place that decides what a "term" is, so the index and the queries always agree:
lower-cased word tokens of two or more characters, English stop words removed (bm25s's list), Snowball-stemmed
(PyStemmer).
"""

from __future__ import annotations

import html
import importlib.util
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import Stemmer

IntArray = npt.NDArray[np.int64]

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Word runs, the tokens of `_TOKEN` and words of one character, are what lies between runs of non-word characters.
_NON_WORD = re.compile(r"(?u)\W+")
# Between two texts tokenised as one string: a token (so it is found) that no lower-cased text has (str.lower
# leaves no ASCII capital), with spaces around it (so it never joins a word of either text).
_SEPARATOR = " QQ "


def _bm25s_stopwords() -> frozenset[str]:
    """bm25s's English stop words, read from its `stopwords` module alone: importing `bm25s.stopwords` runs the
    package's `__init__`, which imports scipy (0.2 s of every process's first research, a worker's included)."""
    package = importlib.util.find_spec("bm25s")
    assert package is not None and package.submodule_search_locations, "bm25s is a dependency"
    path = f"{next(iter(package.submodule_search_locations))}/stopwords.py"
    spec = importlib.util.spec_from_file_location("research_nb_bm25s_stopwords", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_EN)


_STOPWORDS = _bm25s_stopwords()
_TAG = re.compile(r"<[^>]*>")
_BREAK_TAG = re.compile(r"<\s*(br|/p|/li|/div)\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
# A sentence ends at . ! or ? followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")

#: Passages are cut at paragraph (then sentence) boundaries to stay under this many characters.
MAX_PASSAGE_CHARS = 1200


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer: PyStemmer objects must not be shared between threads (searches run in several)."""
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def analyze(text: str) -> list[str]:
    """The index terms of `text`, in order (duplicates kept: they are term frequencies)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    stems: list[str] = _stemmer().stemWords(words)
    return stems


def analyze_many(texts: Sequence[str], batch: int = 4096) -> tuple[list[str], IntArray, IntArray]:
    """The terms of many texts at once, as `analyze` would give them, numbered: (terms, term ids, lengths).

    `terms` lists the distinct terms in order of first appearance, `term ids` is every text's terms in order,
    concatenated, and `lengths[i]` says how many of them belong to text i. Each distinct word is stemmed once
    (a corpus repeats its words a lot), and texts are tokenised a batch at a time to bound memory.

    A batch is one string, the lower-cased texts joined by `_SEPARATOR`, cut by one `re.split` at runs of non-word
    characters: the pieces are the runs of word characters, the tokens `_TOKEN` finds plus one-character words
    (and an empty piece at either end), which map to -1 like stop words. That is half the cost of `findall` (or
    of a call per text). The separator is a token no lower-cased text contains, so where it falls says which text
    each token belongs to.
    """
    term_ids: dict[str, int] = {}
    word_term: dict[str, int] = dict.fromkeys(_STOPWORDS, -1)  # surface word -> term id, -1 for a stop word
    word_term[_SEPARATOR.strip()] = -2
    word_term[""] = -1
    stemmer = _stemmer()
    ids: list[IntArray] = []
    lengths: list[IntArray] = []
    for start in range(0, len(texts), batch):
        texts_in_batch = texts[start : start + batch]
        words = _NON_WORD.split(_SEPARATOR.join([text.lower() for text in texts_in_batch]))
        new_words = [w for w in dict.fromkeys(words) if w not in word_term]
        for word in new_words:
            if len(word) < 2:  # not a token
                word_term[word] = -1
        new_words = [w for w in new_words if len(w) >= 2]
        for word, stem in zip(new_words, stemmer.stemWords(new_words), strict=True):
            word_term[word] = term_ids.setdefault(stem, len(term_ids))
        batch_ids = np.fromiter(map(word_term.__getitem__, words), np.int64, len(words))
        text_of_word = np.cumsum(batch_ids == -2)  # the separators before a word: the number of its text
        kept = batch_ids >= 0
        ids.append(batch_ids[kept])
        lengths.append(np.bincount(text_of_word[kept], minlength=len(texts_in_batch)).astype(np.int64))
    if not ids:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    return list(term_ids), np.concatenate(ids), np.concatenate(lengths)


def strip_html_fragment(fragment: str) -> str:
    """Plain text of a small trusted HTML fragment (a Factbook value): tags dropped, entities decoded.

    A regular expression is enough here: the fragments are generated markup without scripts or comments. Whole
    HTML pages go through selectolax in the loaders.
    """
    text = _BREAK_TAG.sub("\n", fragment)
    return normalize_space(html.unescape(_TAG.sub("", text)))


def normalize_space(text: str) -> str:
    """Collapse runs of spaces and newlines into one space."""
    return " ".join(text.split())


def normalize_lines(text: str) -> str:
    """Collapse spaces inside lines, keep paragraph breaks (at most one blank line), trim the ends."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range of a text."""

    start: int
    end: int


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the non-blank paragraphs (separated by blank lines) of `text[start:end]`, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _BLANK_LINES.finditer(text, start, end):
        _add_trimmed(text, cursor, match.start(), spans)
        cursor = match.end()
    _add_trimmed(text, cursor, end, spans)
    return spans


def passage_spans(text: str, start: int = 0, end: int | None = None, max_chars: int = MAX_PASSAGE_CHARS) -> list[Span]:
    """Cut `text[start:end]` into passages of whole paragraphs, each at most `max_chars` long where possible.

    Consecutive paragraphs are packed together; a paragraph longer than `max_chars` is cut between sentences
    (a single sentence longer than that stays whole: a citation must be able to quote it).
    """
    end = len(text) if end is None else end
    if end - start <= max_chars:  # all its paragraphs pack into one passage: the text, trimmed (most records)
        whole: list[Span] = []
        _add_trimmed(text, start, end, whole)
        return whole
    pieces: list[Span] = []
    for para in paragraph_spans(text, start, end):
        if para.end - para.start <= max_chars:
            pieces.append(para)
        else:
            pieces.extend(_sentence_spans(text, para))
    passages: list[Span] = []
    for piece in pieces:
        if passages and piece.end - passages[-1].start <= max_chars:
            passages[-1] = Span(passages[-1].start, piece.end)
        else:
            passages.append(piece)
    return passages


def _sentence_spans(text: str, para: Span) -> list[Span]:
    spans: list[Span] = []
    cursor = para.start
    for match in _SENTENCE_END.finditer(text, para.start, para.end):
        spans.append(Span(cursor, match.start()))
        cursor = match.end()
    spans.append(Span(cursor, para.end))
    return spans


def _add_trimmed(text: str, start: int, end: int, out: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Span(start, end))
