"""Scenarios 2 and 3: the widget's controls, clicked and typed into for real.

- Cancel stops a long research within a second of the click, keeps a partial report, and the kernel goes on.
- Clarifying questions appear in the widget; an answer typed there resumes the run to its end.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lab_page import HELD_MEMORY_ENGINE, Notebook, make_notebook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTION = "How do the economies of Norway and Sweden differ?"
CANCEL_SHOWN_WITHIN_MS = 1000


def test_a_click_on_cancel_stops_the_research_within_a_second_and_shows_a_partial_report(
    open_notebook: Callable[..., Notebook],
) -> None:
    nb = open_notebook(
        "cancel.ipynb",
        make_notebook(
            HELD_MEMORY_ENGINE,
            f'run = %research --engine memory "{QUESTION}"\nrun',
            "state = await run\ngate.open()\n"
            "state.current_stage.value, state.cancel_reason, state.report.metadata.partial",
        ),
    )
    nb.run(0)
    nb.run(1)
    widget = nb.widget(1)
    search = widget.locator('[data-testid="rnb-step"][data-stage="research_execution"]')
    # held in its search stage once the first sub-question (Norway) has gathered its passages
    expect(search).to_have_attribute("data-state", "active")
    expect(widget.locator('[data-testid="rnb-subq"][data-sub-question-id="sq1"]')).to_have_attribute(
        "data-status", "done"
    )
    expect(widget).to_have_attribute("data-status", "running")

    widget.get_by_test_id("rnb-cancel").click()

    expect(widget).to_have_attribute("data-status", "cancelled")
    record = nb.recorded()
    shown_after_ms = record["cancelledAt"] - record["cancelClickAt"]
    assert shown_after_ms < CANCEL_SHOWN_WITHIN_MS, f"cancelled shown {shown_after_ms:.0f} ms after the click"
    expect(widget.get_by_test_id("rnb-status")).to_have_text("Cancelled")
    expect(widget.get_by_test_id("rnb-message")).to_have_text("Cancelled by user. The partial report is below.")
    expect(search).to_have_attribute("data-state", "stopped")
    expect(widget.get_by_test_id("rnb-cancel")).to_be_hidden()

    partial = nb.report_under_widget(1)
    expect(partial.get_by_role("heading", level=1)).to_have_accessible_name(f"Partial report: {QUESTION}")
    expect(partial).to_contain_text("Norway's economy rests on petroleum and natural gas exports.")
    expect(partial).not_to_contain_text("Sweden's economy")  # never searched: the run stopped before

    # the kernel is free: the next cell runs, and the run's state says what the widget showed
    expect(nb.run(2)).to_contain_text("('cancelled', 'Cancelled by user', True)")
    widget.scroll_into_view_if_needed()


def test_an_answer_typed_into_the_widget_resumes_the_run_to_its_end(open_notebook: Callable[..., Notebook]) -> None:
    nb = open_notebook(
        "clarify.ipynb",
        make_notebook(
            "%load_ext research_nb",
            'run = %research "economy"\nrun',
            "state = await run\nstate.current_stage.value, state.brief.objective",
        ),
    )
    nb.run(0)
    nb.run(1)
    widget = nb.widget(1)
    expect(widget).to_have_attribute("data-status", "awaiting_clarification", timeout=90_000)
    expect(widget.get_by_test_id("rnb-status")).to_have_text("Waiting for your answers")
    form = widget.get_by_test_id("rnb-clarify")
    expect(form.get_by_test_id("rnb-clarify-question")).to_have_count(2)
    focus = form.locator('[data-testid="rnb-clarify-question"][data-question-id="focus"]')
    aspect = form.locator('[data-testid="rnb-clarify-question"][data-question-id="aspect"]')
    expect(focus).to_contain_text("Which country, organisation or subject should the research on “economy” focus on?")
    expect(aspect.get_by_test_id("rnb-clarify-option")).to_have_count(4)

    focus.get_by_test_id("rnb-clarify-input").press_sequentially("Sweden")
    aspect.get_by_label("key figures").check()
    form.get_by_test_id("rnb-clarify-submit").click()

    expect(widget).to_have_attribute("data-status", "completed", timeout=90_000)
    expect(form).to_be_hidden()
    expect(widget.get_by_test_id("rnb-action-error")).to_be_hidden()
    expect(widget.locator('[data-testid="rnb-step"]:not([data-state="done"])')).to_have_count(0)
    report = nb.report_under_widget(1)
    expect(report.get_by_role("heading", level=2).first).to_be_visible()
    expect(report).to_contain_text("Sweden")
    # the answers reached the run: they shaped its plan
    expect(nb.run(2)).to_contain_text("('completed', 'economy Sweden key figures')")
    widget.scroll_into_view_if_needed()
