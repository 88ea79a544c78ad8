"""Segments: what one input (a file, a built-in corpus) contributes to a corpus, analysed and ready to index.

A loader turns an input into `LoadedDocument`s; `Segment.build` analyses their passages once, and the segment is
saved in the cache under a key derived from the input's content, so an unchanged input is never read again.
A segment is stored column-wise (plain lists and numpy arrays, no per-passage objects) because loading tens of
thousands of passages must take milliseconds, not seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from research_nb.sources._atomic import atomic_write
from research_nb.sources._text import analyze_many

IntArray = npt.NDArray[np.int64]
#: What analyses a segment's texts: `_text.analyze_many` or a function that gives the same.
Analyzer = Callable[[Sequence[str]], tuple[list[str], IntArray, IntArray]]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage before it gets its id: its text and where it sits in its document."""

    text: str
    heading: str | None = None
    title: str | None = None  # the passage title when it is not "document title — heading"
    page: int | None = None
    cell: int | None = None
    start: int | None = None
    end: int | None = None


@dataclass(slots=True)
class LoadedDocument:
    """One document as a loader produced it."""

    id: str
    title: str
    chunks: list[Chunk]
    path: str | None = None
    url: str | None = None
    origin: str = "local"
    attribution: str | None = None


def passage_title(document_title: str, heading: str | None) -> str:
    """'Norway — Economy': the document title, plus the section when it adds something."""
    if heading and heading != document_title:
        return f"{document_title} — {heading}"
    return document_title


@dataclass(slots=True)
class TokenColumn:
    """Analysed text of every passage of a segment: term ids (into the segment's vocabulary) and offsets."""

    ids: IntArray
    offsets: IntArray  # passage i has ids[offsets[i]:offsets[i + 1]]


@dataclass(slots=True)
class Segment:
    """Documents, passages (column-wise) and analysed terms of one input."""

    documents: list[dict[str, str | None]]
    passages: dict[str, list[str | int | None]]
    vocabulary: list[str]
    body: TokenColumn
    title: TokenColumn
    warnings: list[str] = field(default_factory=list)

    COLUMNS = ("doc", "n", "title", "text", "heading", "page", "cell", "start", "end")

    @property
    def num_passages(self) -> int:
        return len(self.passages["text"])

    @classmethod
    def build(
        cls, documents: list[LoadedDocument], warnings: list[str] | None = None, *, analyze: Analyzer = analyze_many
    ) -> Segment:
        """Analyse the documents' passages: the costly step, done once per input content. `analyze` does it (an
        `_parallel.AnalysisHelper`'s, on two cores: the same result)."""
        docs: list[dict[str, str | None]] = [
            {
                "id": doc.id,
                "title": doc.title,
                "path": doc.path,
                "url": doc.url,
                "origin": doc.origin,
                "attribution": doc.attribution,
            }
            for doc in documents
        ]
        numbered = [(d, n, chunk) for d, doc in enumerate(documents) for n, chunk in enumerate(doc.chunks, start=1)]
        # column by column, a comprehension each: a Python loop appending to nine lists cost twice as much
        columns: dict[str, list[str | int | None]] = {
            "doc": [d for d, _, _ in numbered],
            "n": [n for _, n, _ in numbered],
            "title": [c.title or passage_title(documents[d].title, c.heading) for d, _, c in numbered],
            "text": [c.text for _, _, c in numbered],
            "heading": [c.heading for _, _, c in numbered],
            "page": [c.page for _, _, c in numbered],
            "cell": [c.cell for _, _, c in numbered],
            "start": [c.start for _, _, c in numbered],
            "end": [c.end for _, _, c in numbered],
        }
        # The title field is the passage title plus its heading, so a Factbook passage titled "Norway — Economy"
        # is also found by its field name ("Unemployment rate").
        title_texts = [
            f"{title} {heading}" if heading and str(heading) not in str(title) else str(title)
            for title, heading in zip(columns["title"], columns["heading"], strict=True)
        ]
        texts = [str(t) for t in columns["text"]]
        vocabulary, ids, lengths = analyze(texts + title_texts)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        n = len(texts)
        body = TokenColumn(ids[: offsets[n]], offsets[: n + 1])
        title = TokenColumn(ids[offsets[n] :], offsets[n:] - offsets[n])
        return cls(docs, columns, vocabulary, body, title, list(warnings or []))

    # -- storage --------------------------------------------------------------------------------------------

    def save(self, prefix: Path) -> None:
        """Write `<prefix>.npz` and `<prefix>.json`, each atomically (a segment missing either is not found)."""
        with atomic_write(prefix.with_suffix(".npz")) as scratch, scratch.open("wb") as stream:
            np.savez(
                stream,
                body_ids=self.body.ids,
                body_offsets=self.body.offsets,
                title_ids=self.title.ids,
                title_offsets=self.title.offsets,
            )
        meta = {
            "documents": self.documents,
            "passages": self.passages,
            "vocabulary": self.vocabulary,
            "warnings": self.warnings,
        }
        with atomic_write(prefix.with_suffix(".json")) as scratch, scratch.open("w", encoding="utf-8") as stream:
            # one C-encoded string (json.dump streams through the pure-Python encoder, about 5x slower); a segment
            # is one input, so the copy is bounded by the largest input
            stream.write(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, prefix: Path) -> Segment | None:
        """The saved segment, or None when it was never saved (either file missing).

        Raises whatever a damaged entry makes reading raise (`BadZipFile`, `EOFError`, `ValueError`, ...), and
        `ValueError` for files that read but do not fit together: the cache then discards and rebuilds it.
        """
        try:
            meta_bytes = prefix.with_suffix(".json").read_bytes()
            stream = prefix.with_suffix(".npz").open("rb")
        except (FileNotFoundError, NotADirectoryError):  # never saved (or no cache folder at all)
            return None
        # Our own file object, closed whatever np.load raises (a path np.load opened itself would leak then).
        with stream, np.load(stream, allow_pickle=False) as arrays:
            body = TokenColumn(arrays["body_ids"], arrays["body_offsets"])
            title = TokenColumn(arrays["title_ids"], arrays["title_offsets"])
        meta = json.loads(meta_bytes)
        segment = cls(meta["documents"], meta["passages"], meta["vocabulary"], body, title, meta["warnings"])
        segment._check()
        return segment

    def _check(self) -> None:
        """Raise ValueError unless the parts agree: a garbled entry must fail here, not in a later search."""
        n = self.num_passages
        if set(self.passages) != set(self.COLUMNS) or any(len(self.passages[c]) != n for c in self.COLUMNS):
            raise ValueError("passage columns do not match")
        for column in (self.body, self.title):
            offsets = column.offsets
            if column.ids.dtype.kind not in "iu" or offsets.dtype.kind not in "iu" or offsets.shape != (n + 1,):
                raise ValueError("term offsets do not match the passages")
            if offsets[0] != 0 or offsets[-1] != len(column.ids) or np.any(np.diff(offsets) < 0):
                raise ValueError("term offsets do not match the terms")
            if len(column.ids) and (column.ids.min() < 0 or column.ids.max() >= len(self.vocabulary)):
                raise ValueError("term ids outside the vocabulary")
        doc_numbers = [int(d or 0) for d in self.passages["doc"]]
        if doc_numbers and (min(doc_numbers) < 0 or max(doc_numbers) >= len(self.documents)):
            raise ValueError("passages of unknown documents")
        if not all(isinstance(d, dict) and "id" in d and "title" in d for d in self.documents):
            raise ValueError("documents without id or title")
