"""Scenario 1: the quickstart notebook in JupyterLab. Its `%research` cell shows the widget, the stage stepper
advances to the end, and the report renders under the widget (once: the notebook does not show it again) with
citations that take the reader to the matching entry of that report's Sources list."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_page import Notebook
from playwright.sync_api import Locator, expect

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"
QUESTION = "How do the economies of Norway and Sweden differ?"
STAGES = ["Clarify", "Plan", "Search", "Select", "Write"]
# its code cells, in order
LOAD, RESEARCH, AWAIT = 0, 1, 2
STEP_ORDER = {"pending": 0, "active": 1, "done": 2}


def quickstart_as_a_newcomer_gets_it() -> dict[str, Any]:
    """The repository's quickstart without its saved outputs (and saved widget state), so that everything the
    test sees was produced in this browser."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    content: dict[str, Any] = json.loads(nbformat.writes(notebook))
    return content


def test_quickstart_widget_advances_to_a_report_whose_citations_lead_to_its_sources(
    open_notebook: Callable[..., Notebook],
) -> None:
    nb = open_notebook("01-quickstart.ipynb", quickstart_as_a_newcomer_gets_it())
    nb.run(LOAD)
    nb.run(RESEARCH)

    widget = nb.widget(RESEARCH)
    expect(widget.get_by_test_id("rnb-title")).to_have_text(QUESTION)
    expect(widget.get_by_test_id("rnb-step")).to_have_text(STAGES)
    expect(widget).to_have_attribute("data-status", "completed", timeout=90_000)

    # the stepper went forward one stage at a time, showing a stage as current (highlighted) on the way
    seen = [dict(step.split(":") for step in states.split()) for states in nb.recorded()["stepper"]]
    assert any("active" in states.values() for states in seen), seen
    for before, after in itertools.pairwise(seen):
        assert all(STEP_ORDER[after[s]] >= STEP_ORDER[before[s]] for s in before), (before, after)
    assert set(seen[-1].values()) == {"done"}
    expect(widget.get_by_test_id("rnb-progress")).to_have_attribute("aria-valuenow", "100")
    expect(widget.get_by_test_id("rnb-subq")).to_have_count(2)  # one sub-question per country, both searched
    expect(widget.locator('[data-testid="rnb-subq"][data-status="done"]')).to_have_count(2)
    expect(widget.get_by_test_id("rnb-message")).to_have_text("The report is below.")
    expect(widget.get_by_test_id("rnb-cancel")).to_be_hidden()

    under_widget = nb.report_under_widget(RESEARCH)
    # the widget's counts are the report's: as many passages as it has distinct [n] numbers, from its documents
    expect(under_widget.get_by_role("heading", level=1)).to_be_visible()
    cited = sorted({int(n) for n in under_widget.locator('a[href^="#rnb-"]').all_inner_texts()})
    documents = under_widget.locator("xpath=.//h2[starts-with(normalize-space(), 'Sources')]/following-sibling::ol[1]")
    assert cited == list(range(1, len(cited) + 1)) and len(cited) > 1, cited
    expect(widget.get_by_test_id("rnb-sources-total")).to_have_text(
        re.compile(
            rf"^[1-9]\d* documents? found · the report cites {len(cited)} passages \(\[1\]–\[{len(cited)}\]\)"
            r" from [1-9]\d* documents?$"
        )
    )
    expect(documents.locator("li")).to_have_count(len(cited))
    expect(under_widget.get_by_role("heading", level=1)).to_have_accessible_name(QUESTION)
    check_side_by_side_table(under_widget)
    follow_a_citation(under_widget, nth=1)

    nb.run(AWAIT)
    expect(nb.output(AWAIT)).to_contain_text("ResearchStage.COMPLETED")


def check_side_by_side_table(report: Locator) -> None:
    """The comparison table renders cell by cell: amounts of money stay text with their cited links (two `$` on
    one line once became a single LaTeX formula spanning both countries' cells)."""
    table = report.locator("table").first
    expect(table.locator("thead th")).to_have_text(["", "Norway", "Sweden"])
    per_capita = table.locator("tbody tr").filter(has_text="Real GDP per capita")
    amount = re.compile(r"^\$\d[\d,.]* .*\[\d+\]$")
    expect(per_capita.locator("td")).to_have_text(["Real GDP per capita", amount, amount])
    expect(per_capita.locator('td a[href^="#"]')).to_have_count(2)
    expect(report.locator("mjx-container, .MathJax")).to_have_count(0)


def follow_a_citation(report: Locator, *, nth: int) -> None:
    """Click the nth citation `[k]` of a rendered report: the k-th entry of the same report's Sources list
    comes into view (it was out of view before)."""
    citation = report.locator('a[href^="#"]:not(.jp-InternalAnchorLink)').nth(nth)
    number = int(citation.inner_text())
    target = citation.get_attribute("href")
    assert target is not None
    sources = report.locator("xpath=.//h2[normalize-space()='Sources¶' or normalize-space()='Sources']")
    entry = sources.locator("xpath=following-sibling::ol[1]/li").nth(number - 1)
    expect(entry.locator(f'[id="{target[1:]}"]')).to_have_count(1)

    citation.scroll_into_view_if_needed()
    expect(entry).not_to_be_in_viewport()
    citation.click()
    expect(entry).to_be_in_viewport()
