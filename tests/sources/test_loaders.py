"""Each file type becomes passages that are exact slices of the document's text, with their location."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from research_nb.models.research import Passage
from research_nb.sources.corpus import Corpus

from .conftest import FIXTURES, write_pdf


def _open(paths: list[Path], cache: Path, **options: bool) -> Corpus:
    return Corpus.open(paths, builtins=(), cache_dir=cache, **options)


def _by_text(passages: list[Passage], needle: str) -> Passage:
    return next(p for p in passages if needle in p.text)


def test_markdown_passages_follow_headings_and_slice_the_file(notes: Path, tmp_path: Path) -> None:
    corpus = _open([notes / "tides.md"], tmp_path)
    text = (notes / "tides.md").read_text(encoding="utf-8")

    passages = corpus.passages_of("file:tides.md")
    assert [p.location.heading for p in passages] == ["Tides and the Moon", "Spring tides", "Neap tides"]
    assert [p.id for p in passages] == ["file:tides.md#1", "file:tides.md#2", "file:tides.md#3"]
    for p in passages:
        assert p.location.start is not None and p.location.end is not None
        assert text[p.location.start : p.location.end] == p.text
        assert p.location.path == "tides.md"
    assert passages[1].title == "Tides and the Moon — Spring tides"
    # A '#' comment inside a fenced code block is not a heading: it stays in the Spring tides passage.
    assert "# not a heading" in passages[1].text
    assert corpus.source("file:tides.md") is not None
    assert corpus.source("file:tides.md").title == "Tides and the Moon"  # type: ignore[union-attr]


def test_plain_text_and_rst(notes: Path, tmp_path: Path) -> None:
    corpus = _open([notes / "sub" / "bread.txt", notes / "README.rst"], tmp_path)

    bread = corpus.passages_of("file:bread.txt")
    assert corpus.source("file:bread.txt").title == "bread"  # type: ignore[union-attr]
    assert len(bread) == 1 and "wild yeast" in bread[0].text and "six hours" in bread[0].text
    glaciers = corpus.passages_of("file:README.rst")
    assert [p.location.heading for p in glaciers] == ["Glaciers", "Retreat"]
    assert glaciers[1].text == "Most glaciers in the Alps have retreated since 1850."


def test_html_keeps_visible_text_only(notes: Path, tmp_path: Path) -> None:
    corpus = _open([notes / "volcanoes.html"], tmp_path)

    passages = corpus.passages_of("file:volcanoes.html")
    everything = "\n".join(p.text for p in passages)
    assert corpus.source("file:volcanoes.html").title == "Volcanoes of Iceland"  # type: ignore[union-attr]
    assert "Iceland sits on the Mid-Atlantic Ridge, where the Eurasian" in everything  # link text kept inline
    assert "closed European airspace for six days because of its ash cloud." in everything
    for hidden in ("basalt secret", "color: red", "Enable JavaScript", "Home | About"):
        assert hidden not in everything
    assert corpus.search_sync("basalt secret") == []
    assert _by_text(passages, "ash cloud").location.heading == "Eyjafjallajökull"


def test_pdf_passages_keep_their_page(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "reef.pdf",
        [["Coral reefs cover less than one percent of the ocean floor."], ["Bleaching follows marine heatwaves."]],
        title="Reef report",
    )
    corpus = _open([pdf], tmp_path / "cache")

    hit = corpus.search_sync("bleaching heatwaves", k=1)[0]
    assert hit.location.page == 2
    assert hit.title == "Reef report"
    assert [p.location.page for p in corpus.passages_of("file:reef.pdf")] == [1, 2]


def test_notebook_cells_with_headings_and_optional_outputs(tmp_path: Path) -> None:
    notebook = FIXTURES / "notebooks" / "analysis.ipynb"
    corpus = _open([notebook], tmp_path)

    passages = corpus.passages_of("file:analysis.ipynb")
    assert corpus.source("file:analysis.ipynb").title == "Penguin survey"  # type: ignore[union-attr]
    assert [p.location.cell for p in passages] == [0, 1, 3]  # the raw cell (2) is skipped
    code = _by_text(passages, "nests per transect")
    assert code.location.heading == "Penguin survey"
    assert _by_text(passages, "orthomosaic").location.heading == "Method"
    assert corpus.search_sync("4711") == []  # outputs are off by default

    with_outputs = _open([notebook], tmp_path, notebook_outputs=True)
    hit = with_outputs.search_sync("4711", k=1)[0]
    assert hit.location.cell == 1 and "colony size estimate: 4711 pairs" in hit.text


@pytest.mark.parametrize("name", ["records.jsonl", "records.jsonl.gz"])
def test_jsonl_records_are_documents(tmp_path: Path, name: str) -> None:
    records = [
        {"_id": "r1", "title": "Honey bees", "text": "Honey bees communicate the direction of food by dancing."},
        {"_id": "r2", "title": "Octopus", "text": "An octopus has three hearts.", "url": "https://example.org/o"},
    ]
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)
    corpus = _open([path], tmp_path / "cache")

    assert corpus.num_documents == 2
    hit = corpus.search_sync("how many hearts does an octopus have", k=1)[0]
    assert hit.document_id == f"file:{name}:r2"
    assert hit.title == "Octopus"
    assert hit.url == "https://example.org/o"
    assert hit.location.start == 0 and hit.location.end == len(records[1]["text"])


def test_folders_recurse_and_skip_unsupported_types(notes: Path, tmp_path: Path) -> None:
    corpus = _open([notes], tmp_path)

    assert sorted(corpus.titles()) == [
        "file:notes/README.rst",
        "file:notes/sub/bread.txt",
        "file:notes/tides.md",
        "file:notes/volcanoes.html",
    ]
    assert corpus.stats.files_ignored == 1  # image.png


def test_globs_select_files(notes: Path, tmp_path: Path) -> None:
    corpus = _open([notes / "**" / "*.txt", notes / "*.md"], tmp_path)

    assert sorted(corpus.titles()) == ["file:notes/sub/bread.txt", "file:notes/tides.md"]
