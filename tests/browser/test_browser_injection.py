"""Scenario 4: text from documents (and from the question) that looks like HTML or Markdown is shown as text.

The corpus in `fixtures/hostile-corpus/` holds `<script>`, `<img onerror=...>`, `<svg onload>`, `<iframe>`,
`javascript:` links and Markdown link and image tricks; one more file gets a name that is an `<img>` tag (made
here, not kept in git), so that the widget's log lines carry one too. Every trick would set `window.__pwned` or
fetch from `pwned.invalid` if it ran: the canary is that neither happened, no such element exists in the page, the
console stayed free of errors, and the tricks are there to read, literally, in the widget and in the report.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lab_page import BrowserLog, Notebook, make_notebook
from lab_server import JupyterLab
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CORPUS = Path(__file__).with_name("fixtures") / "hostile-corpus"
QUESTION = "How is the winter cod trade <img src=x onerror=window.__pwned='question'> handled at the harbour?"
HOSTILE_FILE_NAME = "<img src=x onerror=window.__pwned='file'>.md"
# what the documents say, as a reader must see it in the report
SHOWN_AS_TEXT = [
    """<script>window.__pwned = "script"</script>""",
    """<img src="https://pwned.invalid/ledger.png" onerror="window.__pwned='img'">""",
    "[in the ledger](javascript:window.__pwned='link')",
]
# elements that only exist if something from a document or the question was parsed as HTML
INJECTED = "script, iframe, img, svg[onload], [onerror], [onload], [onmouseover], a[href^='javascript:' i]"


def test_html_and_markdown_tricks_in_documents_are_shown_as_text_and_never_run(
    lab: JupyterLab, open_notebook: Callable[..., Notebook], browser_log: BrowserLog
) -> None:
    corpus = lab.root / "hostile-corpus"
    shutil.copytree(CORPUS, corpus, dirs_exist_ok=True)
    (corpus / HOSTILE_FILE_NAME).write_text("Nets are mended on the winter quay after the cod auction.\n")
    nb = open_notebook(
        "injection.ipynb",
        make_notebook(
            "%load_ext research_nb",
            f'run = %research --no-clarify --sources hostile-corpus "{QUESTION}"\nrun',
            "state = await run\nrun.markdown()",
        ),
    )
    nb.run(0)
    nb.run(1)
    widget = nb.widget(1)
    expect(widget).to_have_attribute("data-status", "completed", timeout=60_000)
    nb.run(2)

    # the widget: title, sub-question rows and log lines show the tags as text
    expect(widget.get_by_test_id("rnb-title")).to_have_text(QUESTION)
    expect(widget.get_by_test_id("rnb-subq").first).to_contain_text(QUESTION)
    widget.get_by_test_id("rnb-log").locator("summary").click()
    expect(widget.get_by_test_id("rnb-log-lines")).to_contain_text(f"hostile-corpus/{HOSTILE_FILE_NAME}")

    # the report, under the widget and in its own cell: the documents' tricks are there to read
    for report in (nb.report_under_widget(1), nb.output(2).locator(".jp-RenderedMarkdown")):
        expect(report.get_by_role("heading", level=1)).to_have_accessible_name(QUESTION)
        for text in SHOWN_AS_TEXT:
            expect(report).to_contain_text(text)
        # clicking what would have been a javascript: link does nothing
        report.get_by_text("[in the ledger](javascript:", exact=False).first.click()

    # the canary: nothing ran, nothing was fetched, nothing was made an element, nothing complained
    for output in range(3):
        expect(nb.output(output).locator(INJECTED)).to_have_count(0)
    assert nb.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert [url for url in browser_log.requests if "pwned" in url or url.endswith("/x")] == []
    assert browser_log.errors == []
    widget.scroll_into_view_if_needed()
