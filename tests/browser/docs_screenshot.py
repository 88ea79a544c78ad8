"""Take the picture the README and docs/index.md show: the quickstart's widget with its report, in JupyterLab and
Debian's chromium through the browser tests' own harness. Run by hand after a change to the widget or the report:

    .venv/bin/python tests/browser/docs_screenshot.py      # writes docs/images/widget-and-report.png
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lab_page import Notebook, make_notebook
from lab_server import JupyterLab
from playwright.sync_api import expect, sync_playwright

from conftest import CHROMIUM, CHROMIUM_FLAGS

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "widget-and-report.png"
QUESTION = "How do the economies of Norway and Sweden differ?"


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        lab = JupyterLab(Path(root))
        lab.start()
        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(Path(root) / "profile"),
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=CHROMIUM_FLAGS,
                    viewport={"width": 1100, "height": 1800},
                )
                page = context.new_page()
                lab.put_notebook("quickstart.ipynb", make_notebook("%load_ext research_nb", f'%research "{QUESTION}"'))
                notebook = Notebook(page, lab, "quickstart.ipynb", "docs-picture").open()
                notebook.run(0)
                notebook.run(1)
                expect(notebook.widget(1)).to_have_attribute("data-status", "completed", timeout=120_000)
                expect(notebook.report_under_widget(1).get_by_role("table")).to_be_visible()
                PICTURE.parent.mkdir(parents=True, exist_ok=True)
                # the widget and the top of its report (Answer, At a glance): a picture, not the whole report
                notebook.code_cell(1).scroll_into_view_if_needed()
                box = notebook.output(1).bounding_box()
                assert box is not None
                clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": min(box["height"], 1000)}
                page.screenshot(path=PICTURE, clip=clip)
                context.close()
        finally:
            lab.shut_down_kernels()
            lab.stop()
    print(f"wrote {PICTURE}")


if __name__ == "__main__":
    main()
