"""Browser tests: a real JupyterLab server and Debian's Chromium driven by Playwright.

- `lab`: one JupyterLab for the whole session (see `lab_server.py`), stopped by its PID at the end, also when a
  test fails.
- `browser`: Chromium at /usr/bin/chromium (never a downloaded build), headless, with a fresh user-data folder;
  one per test module. Playwright's sync API keeps its event loop marked as running between calls, so it must not
  outlive the module: the async tests of other folders need the thread's loop free.
- `notebook_page`: a new page per test with `recorder.js` in it; its console is collected, a screenshot of the
  end state goes to `test-artifacts/browser/<test>.png`, and a failing test's report carries the console log and
  the server's log. Kernels the test started are shut down afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_page import BrowserLog, Notebook
from lab_server import JupyterLab
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
RECORDER = Path(__file__).with_name("recorder.js")
TIMEOUT_MS = 30_000


_browser_log = pytest.StashKey[BrowserLog]()
_lab_key = pytest.StashKey[JupyterLab]()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make setup-browser`, or `apt-get install chromium`), "
            "or deselect these tests with `-m 'not browser'`"
        )
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            context.add_init_script(path=str(RECORDER))
            yield context
        finally:
            context.close()


@pytest.fixture
def notebook_page(request: pytest.FixtureRequest, lab: JupyterLab, browser: BrowserContext) -> Iterator[Page]:
    log = BrowserLog()
    request.node.stash[_browser_log] = log
    request.node.stash[_lab_key] = lab
    page = browser.new_page()
    page.on("console", log.console)
    page.on("pageerror", log.page_error)
    page.on("request", lambda r: log.requests.append(r.url))
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=ARTIFACTS / f"{name}.png")
        finally:
            (ARTIFACTS / f"{name}.console.txt").write_text(log.text() + "\n")
            page.close()
            lab.shut_down_kernels()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.failed:
        log = item.stash.get(_browser_log, None)
        if log is not None:
            report.sections.append(("browser console", log.text()))
        lab = item.stash.get(_lab_key, None)
        if lab is not None:
            report.sections.append(("jupyterlab log (last lines)", lab.log_tail()))
    return report


@pytest.fixture
def browser_log(request: pytest.FixtureRequest, notebook_page: Page) -> BrowserLog:
    """What the test's page logged so far (console, errors, requests)."""
    return request.node.stash[_browser_log]


@pytest.fixture
def open_notebook(request: pytest.FixtureRequest, lab: JupyterLab, notebook_page: Page) -> Callable[..., Notebook]:
    """Save a notebook in the server's root folder and open it in the test's page, in a workspace of its own."""
    workspace = re.sub(r"[^\w-]+", "-", request.node.name)[:60]

    def open_(path: str, content: dict[str, Any]) -> Notebook:
        lab.put_notebook(path, content)
        return Notebook(notebook_page, lab, path, workspace).open()

    return open_
