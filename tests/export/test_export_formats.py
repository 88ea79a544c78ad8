"""`research_nb.export`: each format opened as a reader opens it, with its citations and sources there; bad paths
and formats refused in one line, with nothing lost."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from research_nb.core.errors import UserInputError
from research_nb.export import export_state, export_text
from research_nb.models.research import ResearchState

ANSWER = "Write-back caches delay writes to the backing store"


class _Page(HTMLParser):
    """What an HTML file refers to: link targets, ids, and anything that would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.loads: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag in ("script", "link", "img", "iframe") or found.get("src"):
            self.loads.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def test_markdown_links_citations_to_sources_and_the_files_relative_to_the_export(
    finished: ResearchState, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    text = export_state(finished, out / "report.md").read_text()
    assert ANSWER in text
    anchor = re.search(r'<a id="(rnb-[0-9a-f]+-1)"></a>', text)
    assert anchor is not None and f"[1](#{anchor.group(1)})" in text
    # the user's file: its path once (not the title twice), linked from where the export is
    assert "[`notes/cache_notes.md`](../work/notes/cache_notes.md)" in text
    assert '"Write-back"' not in text
    assert "## Provenance" in text and "| Engine | offline |" in text


def test_html_is_self_contained_with_citations_linked_to_its_sources_and_a_provenance_block(
    finished: ResearchState, tmp_path: Path
) -> None:
    path = export_state(finished, tmp_path / "report.html")
    page = _Page()
    page.feed(path.read_text())
    assert page.loads == []  # no script, stylesheet, image or frame from anywhere
    assert "<style>" in path.read_text()
    citations = [h for h in page.hrefs if h.startswith("#")]
    assert citations and all(h[1:] in page.ids for h in citations)  # every [n] lands on its source
    assert "work/notes/cache_notes.md" in page.hrefs  # relative to the file written
    assert ANSWER in page.text
    for label in ("Engine", "offline", "Corpus content hash", "Stage timings", "Options", finished.request_id):
        assert label in page.text
    assert re.search(r"Corpus content hash[0-9a-f]{32}", page.text)


def test_json_is_the_whole_final_state(finished: ResearchState, tmp_path: Path) -> None:
    path = export_state(finished, tmp_path / "state.json")
    assert ResearchState.model_validate(json.loads(path.read_text())) == finished


def test_pdf_has_the_answer_its_citations_and_sources(finished: ResearchState, tmp_path: Path) -> None:
    path = export_state(finished, tmp_path / "report.pdf")
    assert path.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert ANSWER in flat and "[1]" in flat
    assert "Sources" in flat and "notes/cache_notes.md" in flat
    assert "Provenance" in flat and finished.request_id in flat
    annotations = [a.get_object() for page in PdfReader(path).pages for a in page.get("/Annots", [])]
    targets = [a["/A"] for a in annotations if "/A" in a] + [a["/Dest"] for a in annotations if "/Dest" in a]
    assert len(targets) >= 2  # the citations are links in the PDF too


def test_the_format_can_be_named_apart_from_the_suffix(finished: ResearchState, tmp_path: Path) -> None:
    path = export_state(finished, tmp_path / "report.txt", format="markdown")
    assert path.read_text().startswith("# What do write-back caches")
    assert export_text(finished, "html").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("target", "format", "message"),
    [
        ("report.docx", None, "report.docx' from its suffix: end it in .md, .html, .json or .pdf"),
        ("report.md", "docx", "unknown export format 'docx'; use one of md, html, json, pdf"),
        ("missing/report.md", None, "the folder"),
        (".", "md", "it is a folder"),
    ],
)
def test_a_bad_path_or_format_is_one_line_and_the_file_there_is_kept(
    finished: ResearchState, tmp_path: Path, target: str, format: str | None, message: str
) -> None:
    with pytest.raises(UserInputError, match=re.escape(message)) as raised:
        export_state(finished, tmp_path / target if target != "." else tmp_path, format)
    assert "\n" not in str(raised.value)


def test_a_failed_export_leaves_the_earlier_file_whole(finished: ResearchState, tmp_path: Path) -> None:
    earlier = tmp_path / "report.md"
    earlier.write_text("the earlier export")
    unfinished = finished.model_copy(update={"report": None})
    with pytest.raises(UserInputError, match="has no report yet"):
        export_state(unfinished, earlier)
    assert earlier.read_text() == "the earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "work"]  # no temporary file left behind
    assert json.loads(export_state(unfinished, tmp_path / "state.json").read_text())["report"] is None
