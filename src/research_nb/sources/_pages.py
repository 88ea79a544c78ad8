"""Web text into passages: readable text of a fetched page (trafilatura), and any text cut into located passages
with stable ids, like a local file's."""

from __future__ import annotations

import hashlib

from research_nb.models.research import Passage, PassageLocation
from research_nb.sources._text import normalize_lines, passage_spans

#: A fetched page is read only this far: a research passage never needs more, and a huge page must not stall a run.
MAX_PAGE_BYTES = 3 * 1024 * 1024
#: Passages kept per page (its first ones: the readable text starts with what the page is about).
MAX_PAGE_PASSAGES = 12


def url_document_id(prefix: str, url: str) -> str:
    """A short stable id for the page at `url` (ids appear in prompts and citations; URLs can be long)."""
    return f"{prefix}:{hashlib.sha1(url.encode('utf-8')).hexdigest()[:12]}"


def text_passages(
    document_id: str, title: str, text: str, url: str | None, *, limit: int = MAX_PAGE_PASSAGES
) -> list[Passage]:
    """`text` cut into passages of whole paragraphs (`<document_id>#0`, `#1`, ...), with their offsets. Each line
    is a paragraph (web APIs and extracted pages put one paragraph on a line)."""
    body = normalize_lines(text.replace("\n", "\n\n"))
    passages = []
    for n, span in enumerate(passage_spans(body)[:limit]):
        passages.append(
            Passage(
                id=f"{document_id}#{n}",
                document_id=document_id,
                title=title,
                text=body[span.start : span.end],
                location=PassageLocation(start=span.start, end=span.end),
                url=url,
            )
        )
    return passages


def readable_text(html: str, url: str) -> str | None:
    """The main text of an HTML page (no navigation, ads or footers), or None when it has none. Blocking: call it
    in a worker thread."""
    import trafilatura  # the `web` extra; imported here so that the providers load without it

    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True, deduplicate=True
    )
    return text or None
