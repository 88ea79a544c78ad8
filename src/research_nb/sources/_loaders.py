"""File loaders: Markdown, plain text, reStructuredText, HTML, PDF, Jupyter notebooks and JSONL records.

Each loader turns one file into documents whose passages are slices of the document's extracted text, with
their location (page, heading, cell, character offsets into that text), so a citation can point at the exact
place. A file that cannot be used raises `LoadError` with a short reason; the corpus turns it into a warning and
goes on with the other files.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from research_nb.core.blocking import check_stop
from research_nb.sources._segment import Chunk, LoadedDocument
from research_nb.sources._text import Span, normalize_lines, normalize_space, passage_spans

#: Files larger than this are skipped with a warning (a corpus is for documents, not data dumps).
MAX_FILE_BYTES = 200 * 1024 * 1024
#: Files are read in blocks of this size; between blocks a cancelled run's thread stops (`check_stop`).
READ_BLOCK_BYTES = 1 << 20

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
_RST_HEADING = re.compile(r"^(?P<title>[^\s].*)\n(?P<rule>[=\-~^\"'`#*+]{3,})[ \t]*$", re.MULTILINE)
_HTML_BLOCKS = (
    "p,li,pre,blockquote,td,th,tr,dd,dt,figcaption,caption,div,section,article,header,footer,nav,aside,main,br,table"
)
# Not text a reader sees as content: code, styling, fallbacks, and navigation menus.
_HTML_HIDDEN = ["script", "style", "noscript", "template", "svg", "iframe", "object", "nav"]


class LoadError(Exception):
    """This file cannot be indexed; the message says why in a few words."""


class PartialLoad(LoadError):
    """The file was loaded, but not all of it: index `documents` and warn about the rest."""

    def __init__(self, documents: list[LoadedDocument], reason: str) -> None:
        super().__init__(reason)
        self.documents = documents


Loader = Callable[[Path, str, str], list[LoadedDocument]]


def loader_for(path: Path, notebook_outputs: bool = False) -> Loader | None:
    """The loader for a file name, or None for a type the corpus does not read."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return load_jsonl
    if name.endswith(".ipynb") and notebook_outputs:
        return functools.partial(load_notebook, include_outputs=True)
    return _LOADERS.get(path.suffix.lower())


def check_size(path: Path, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise LoadError(f"too large ({_human_size(size)}; the limit is {_human_size(MAX_FILE_BYTES)})")


def read_blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in bounded blocks, never more than `MAX_FILE_BYTES` in all (a file that grew after it
    was listed is "too large", not read on and on), stopping between blocks when the run is cancelled."""
    total = 0
    with path.open("rb") as stream:
        while block := stream.read(READ_BLOCK_BYTES):
            check_stop()
            total += len(block)
            check_size(path, total)
            yield block


def _human_size(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


# -- text formats -----------------------------------------------------------------------------------------------


def load_markdown(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    text = _read_text(path)
    headings = [(m.start(), m.end(), normalize_space(m.group(2))) for m in _ATX_HEADING.finditer(text)]
    headings = _outside_fences(text, headings)
    first_h1 = next((h for s, e, h in headings if text[s:e].lstrip().startswith("# ")), None)
    title = first_h1 or path.stem
    return [LoadedDocument(doc_id, title, _sectioned_chunks(text, headings), path=display)]


def load_rst(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    text = _read_text(path)
    headings = [(m.start(), m.end(), normalize_space(m.group("title"))) for m in _RST_HEADING.finditer(text)]
    title = headings[0][2] if headings else path.stem
    return [LoadedDocument(doc_id, title, _sectioned_chunks(text, headings), path=display)]


def load_text(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    text = _read_text(path)
    return [LoadedDocument(doc_id, path.stem, _sectioned_chunks(text, []), path=display)]


def load_html(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    from selectolax.lexbor import LexborHTMLParser  # on first use: opening a corpus without HTML stays fast

    tree = LexborHTMLParser(_read_text(path))
    title_node = tree.css_first("title")
    tree.strip_tags(_HTML_HIDDEN)
    root = tree.body or tree.root
    if root is None:
        raise LoadError("no visible text")
    # Mark block boundaries as blank lines and headings as Markdown headings, then section the text like
    # Markdown: inline elements (links, emphasis) stay inside their sentence.
    for node in root.css(_HTML_BLOCKS):
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for level in range(1, 7):
        for node in root.css(f"h{level}"):
            heading = normalize_space(node.text())
            if heading:
                node.insert_before(f"\n\n{'#' * level} {heading}\n\n")
            node.decompose()
    text = normalize_lines(root.text(separator=""))
    headings = [(m.start(), m.end(), normalize_space(m.group(2))) for m in _ATX_HEADING.finditer(text)]
    page_title = normalize_space(title_node.text()) if title_node is not None else ""
    first_h1 = next((h for s, e, h in headings if text[s:e].startswith("# ")), None)
    title = page_title or first_h1 or path.stem
    return [LoadedDocument(doc_id, title, _sectioned_chunks(text, headings), path=display)]


# -- structured formats ---------------------------------------------------------------------------------------


def load_pdf(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:  # the `pdf` extra is not installed
        raise LoadError("reading PDF needs pypdf: pip install research-nb[pdf]") from exc
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise LoadError("the PDF is encrypted")
        pages = [normalize_lines(page.extract_text() or "") for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise LoadError(f"not a valid PDF ({str(exc)[:80] or type(exc).__name__})") from exc
    chunks: list[Chunk] = []
    parts: list[str] = []
    offset = 0
    for number, page_text in enumerate(pages, start=1):
        for span in passage_spans(page_text):
            chunks.append(
                Chunk(page_text[span.start : span.end], page=number, start=offset + span.start, end=offset + span.end)
            )
        parts.append(page_text)
        offset += len(page_text) + 2  # pages are joined with a blank line in the document text
    if not chunks:
        raise LoadError("no extractable text (a scanned PDF?)")
    title = normalize_space(meta_title) or path.stem
    return [LoadedDocument(doc_id, title, chunks, path=display)]


def load_notebook(path: Path, doc_id: str, display: str, include_outputs: bool = False) -> list[LoadedDocument]:
    try:
        notebook = json.loads(_read_text(path))
        cells = notebook["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise LoadError("not a Jupyter notebook (nbformat 4 JSON)") from exc
    chunks: list[Chunk] = []
    title: str | None = None
    heading: str | None = None
    offset = 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("markdown", "code"):
            continue
        text = _joined(cell.get("source", ""))
        if cell["cell_type"] == "code" and include_outputs:
            text = "\n\n".join(filter(None, [text, *(_output_text(o) for o in cell.get("outputs", []))]))
        if not text.strip():
            continue
        cell_headings: list[tuple[int, int, str]] = []
        if cell["cell_type"] == "markdown":
            cell_headings = [(m.start(), m.end(), normalize_space(m.group(2))) for m in _ATX_HEADING.finditer(text)]
            if title is None:
                title = next((h for s, e, h in cell_headings if text[s:e].lstrip().startswith("# ")), None)
        for chunk in _sectioned_chunks(text, cell_headings, heading):
            chunks.append(
                Chunk(
                    chunk.text,
                    heading=chunk.heading,
                    cell=index,
                    start=offset + (chunk.start or 0),
                    end=offset + (chunk.end or 0),
                )
            )
        if cell_headings:
            heading = cell_headings[-1][2]
        offset += len(text) + 2  # cells are joined with a blank line in the document text
    return [LoadedDocument(doc_id, title or path.stem, chunks, path=display)]


def load_jsonl(path: Path, doc_id: str, display: str) -> list[LoadedDocument]:
    """One document per record `{"_id", "title", "text", "url"?}`.

    Lines that are not JSON, records without text and repeated ids are skipped, counted in one warning.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    documents: list[LoadedDocument] = []
    bad: list[int] = []
    seen: set[str] = set()
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for line_number, line in enumerate(lines, start=1):
                if line_number % 1024 == 0:
                    check_stop()
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    text = str(record["text"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    bad.append(line_number)
                    continue
                record_id = str(record.get("_id", line_number))
                if record_id in seen:
                    bad.append(line_number)
                    continue
                seen.add(record_id)
                title = normalize_space(str(record.get("title") or "")) or record_id
                url = record.get("url")
                chunks = [Chunk(text[s.start : s.end], start=s.start, end=s.end) for s in passage_spans(text)]
                if chunks:
                    documents.append(
                        LoadedDocument(
                            f"{doc_id}:{record_id}", title, chunks, path=display, url=str(url) if url else None
                        )
                    )
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise LoadError(f"unreadable ({exc.__class__.__name__}: not UTF-8 JSON lines or a broken gzip file)") from exc
    if not documents:
        raise LoadError("no records with a text field")
    if bad:
        raise PartialLoad(documents, f"{len(bad)} bad line(s) skipped (first: line {bad[0]})")
    return documents


# -- helpers --------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    data = b"".join(read_blocks(path))
    if b"\x00" in data[:8192]:
        raise LoadError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError("not UTF-8 text") from exc


def _sectioned_chunks(
    text: str, headings: list[tuple[int, int, str]], initial_heading: str | None = None
) -> list[Chunk]:
    """Passages of `text` cut at headings (given as (start, end, heading) of each heading line)."""
    chunks: list[Chunk] = []
    boundaries = [(0, 0, initial_heading), *headings]
    for i, (_, body_start, heading) in enumerate(boundaries):
        body_end = headings[i][0] if i < len(headings) else len(text)
        for span in passage_spans(text, body_start, body_end):
            chunks.append(_chunk(text, span, heading))
    return chunks


def _chunk(text: str, span: Span, heading: str | None) -> Chunk:
    return Chunk(text[span.start : span.end], heading=heading, start=span.start, end=span.end)


def _outside_fences(text: str, headings: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop '#' lines inside fenced code blocks (comments in code are not headings)."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    ranges = list(zip(fences[0::2], fences[1::2] + [len(text)] * (len(fences) % 2), strict=False))
    return [h for h in headings if not any(a <= h[0] < b for a, b in ranges)]


def _joined(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def _output_text(output: object) -> str:
    if not isinstance(output, dict):
        return ""
    if "text" in output:
        return _joined(output["text"])
    data = output.get("data")
    if isinstance(data, dict) and "text/plain" in data:
        return _joined(data["text/plain"])
    return ""


_LOADERS: dict[str, Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".rst": load_rst,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".ipynb": load_notebook,
}
