"""A folder of real-looking Markdown for the worker benchmarks: the Factbook's own sections, one file per country
and copy, each copy's headings and file names varied ("Norway (copy 3)") so every file is a document of its own.

The text is the bundled World Factbook's (real prose and `- Field: value` lines), written back out as Markdown
(`# Country` then `## Section` blocks in reading order); `copies` replicates it to reach a size (one copy is
about the Factbook's 32,600 passages once the folder is indexed; the benchmark reports the count it got).
"""

from __future__ import annotations

from pathlib import Path

from research_nb.sources.corpus import Corpus


def factbook_documents() -> list[tuple[str, str]]:
    """(title, Markdown) for each Factbook document, in the corpus's own order."""
    corpus = Corpus.open(builtins=("factbook",))
    documents = []
    for document_id, title in corpus.titles().items():
        blocks, last = [f"# {title}\n"], None
        for _, heading, text in corpus.headed_texts(document_id):
            if heading != last:
                blocks.append(f"## {heading}\n")
                last = heading
            blocks.append(f"{text}\n")
        documents.append((title, "\n".join(blocks)))
    return documents


def write_folder(folder: Path, copies: int, limit_bytes: int | None = None) -> int:
    """Write `copies` copies of the Factbook (or fewer bytes, up to `limit_bytes`) under `folder`; the bytes."""
    written = 0
    documents = factbook_documents()
    for copy in range(copies):
        shelf = folder / f"copy-{copy:02}"
        shelf.mkdir(parents=True, exist_ok=True)
        for n, (title, text) in enumerate(documents):
            varied = text.replace(f"# {title}\n", f"# {title} (copy {copy})\n", 1) if copy else text
            if limit_bytes is not None and written + len(varied) > limit_bytes:
                return written
            (shelf / f"{n:04}.md").write_text(varied)
            written += len(varied.encode())
    return written
