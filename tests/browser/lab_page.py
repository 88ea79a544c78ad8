"""A notebook open in JupyterLab in a real browser, driven as a user drives it: click a cell, Shift+Enter, click
buttons in the page. Every step waits on a DOM condition with a timeout, never on a fixed delay.

The research widget's stable hooks (`data-testid="rnb-*"`, `data-status`, `data-stage`, `data-state`) come from
`research_nb/notebook/static/widget.js`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import nbformat
from lab_server import JupyterLab
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, expect

EXECUTED_PROMPT = re.compile(r"^\[\d+\]:$")
KERNEL_START_TIMEOUT_MS = 60_000

# A cell that loads the extension and registers the in-memory test engine (tests/engines_for_tests.py, on the
# kernel's PYTHONPATH) as "memory", held inside its search stage until `gate.open()`: a research that lasts as
# long as the test needs, stopped where it has already gathered something.
HELD_MEMORY_ENGINE = """\
%load_ext research_nb
from engines_for_tests import MemoryEngine
from research_nb import workflow
from research_nb.models.research import ResearchStage
engine = MemoryEngine()
gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
workflow.engines.register("memory", lambda: engine)
"""


@dataclass
class BrowserLog:
    """What the page did while a test ran: console messages, uncaught errors, the URLs it requested."""

    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors and uncaught page errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def console(self, message: ConsoleMessage) -> None:
        location = message.location
        where = f" ({location['url']}:{location['lineNumber']})" if location.get("url") else ""
        self.lines.append(f"[{message.type}] {message.text}{where}")
        if message.type == "error":
            self.errors.append(message.text)

    def page_error(self, error: Error) -> None:
        self.lines.append(f"[pageerror] {error.message}")
        self.errors.append(error.message)

    def text(self) -> str:
        return "\n".join(self.lines) or "(nothing)"


def make_notebook(*cells: str) -> dict[str, Any]:
    """A notebook of code cells for the Python 3 kernel (JupyterLab starts it without asking)."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    return dict(notebook)


class Notebook:
    """One notebook in its own JupyterLab workspace (so no tab of another test opens with it)."""

    def __init__(self, page: Page, lab: JupyterLab, path: str, workspace: str) -> None:
        self.page = page
        self.lab = lab
        self.path = path
        self.workspace = workspace
        self.panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Notebook"))

    def open(self) -> Notebook:
        self.page.goto(self.lab.lab_url(self.path, self.workspace))
        expect(self.panel).to_have_count(1, timeout=KERNEL_START_TIMEOUT_MS)
        self.wait_for_idle_kernel()
        return self

    def wait_for_idle_kernel(self) -> None:
        """The server says the kernel is idle with this page connected, and the page shows it idle."""
        self.lab.wait_for_kernel(self.path, timeout=KERNEL_START_TIMEOUT_MS / 1000)
        # JupyterLab's toolbar shows it; Notebook 7 shows it in the page's header
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator, .jp-NotebookKernelStatus").first
        if self.lab.app == "lab":
            expect(indicator).to_have_attribute("data-status", "idle", timeout=KERNEL_START_TIMEOUT_MS)

    # -- cells --------------------------------------------------------------------------------------------

    def code_cell(self, index: int) -> Locator:
        return self.panel.locator(".jp-CodeCell").nth(index)

    def output(self, index: int) -> Locator:
        return self.code_cell(index).locator(".jp-Cell-outputArea")

    def run(self, index: int, *, timeout_ms: float = 60_000) -> Locator:
        """Run the index-th code cell (one not run before) as a user does: select it, Shift+Enter. Returns its
        output area once the cell finished (its prompt shows an execution count)."""
        cell = self.code_cell(index)
        cell.locator(".jp-InputPrompt").click()
        expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
        self.page.keyboard.press("Shift+Enter")
        expect(cell.locator(".jp-InputPrompt")).to_have_text(EXECUTED_PROMPT, timeout=timeout_ms)
        return self.output(index)

    def text_of(self, index: int) -> str:
        return self.output(index).inner_text()

    # -- the research widget ------------------------------------------------------------------------------

    def widget(self, index: int) -> Locator:
        """The research widget shown by the index-th code cell."""
        return self.output(index).get_by_test_id("rnb-widget")

    def report_under_widget(self, index: int) -> Locator:
        """The report the widget's display shows under it when the run ends (rendered Markdown)."""
        return self.output(index).locator(".jp-RenderedMarkdown")

    def recorded(self) -> dict[str, Any]:
        """What `recorder.js` saw in the page."""
        record: dict[str, Any] = self.page.evaluate("() => window.__rnbRecord")
        return record

    # -- the kernel ---------------------------------------------------------------------------------------

    def restart_kernel(self) -> None:
        """JupyterLab's toolbar button (Notebook 7's menu: Kernel, Restart Kernel…), then the dialog's Restart."""
        if self.lab.app == "lab":
            self.panel.locator('[data-command="notebook:restart-kernel"]').click()
        else:
            self.page.get_by_role("menuitem", name="Kernel", exact=True).click()
            self.page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel…")).click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.locator("button.jp-mod-accept").click()
        expect(dialog).to_have_count(0)
