"""The batch widget in JupyterLab: counts move as runs finish, Cancel all stops the rest, a finished run opens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lab_page import HELD_MEMORY_ENGINE, Notebook, make_notebook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_batch_widget_counts_runs_as_they_finish_and_opens_a_finished_one(
    open_notebook: Callable[..., Notebook],
) -> None:
    nb = open_notebook(
        "batch.ipynb",
        make_notebook(
            HELD_MEMORY_ENGINE,
            "%%research --batch --engine memory --no-clarify\nNorway economy?\nSweden economy?\nChile economy?\n",
            "await gate.reached(3)\ngate.open()",
        ),
    )
    nb.run(0)
    nb.run(1)
    widget = nb.output(1).get_by_test_id("rnb-batch")
    expect(widget.get_by_test_id("rnb-batch-remaining")).to_have_attribute("data-value", "3")
    expect(widget.get_by_test_id("rnb-batch-cancel")).to_be_enabled()

    nb.run(2)  # the three held runs go on to their end
    expect(widget.get_by_test_id("rnb-batch-completed")).to_have_attribute("data-value", "3")
    expect(widget).to_have_attribute("data-finished", "true")
    expect(widget.get_by_test_id("rnb-batch-cancel")).to_be_hidden()
    expect(widget.get_by_test_id("rnb-batch-run")).to_have_count(3)

    widget.get_by_test_id("rnb-batch-open").first.click()
    report = nb.output(1).locator(".jp-RenderedMarkdown")
    expect(report).to_contain_text("Norway's economy rests on petroleum and natural gas exports.")


def test_cancel_all_clicked_in_the_browser(open_notebook: Callable[..., Notebook]) -> None:
    nb = open_notebook(
        "batch-cancel.ipynb",
        make_notebook(
            HELD_MEMORY_ENGINE,
            "%%research --batch --engine memory --no-clarify\nNorway economy?\nSweden economy?\n",
            "batch = _\nawait batch\nbatch.progress().cancelled",
        ),
    )
    nb.run(0)
    nb.run(1)
    widget = nb.output(1).get_by_test_id("rnb-batch")
    expect(widget.get_by_test_id("rnb-batch-remaining")).to_have_attribute("data-value", "2")

    widget.get_by_test_id("rnb-batch-cancel").click()

    expect(widget.get_by_test_id("rnb-batch-cancelled")).to_have_attribute("data-value", "2")
    expect(widget).to_have_attribute("data-finished", "true")
    expect(nb.run(2)).to_contain_text("2")
