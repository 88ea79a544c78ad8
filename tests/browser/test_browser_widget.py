"""The widget as a user meets it, in JupyterLab and in Notebook 7 (one server of each for the module):

- a single-choice question's radios exclude each other, arrow keys move within them and never reach the
  notebook's shortcuts, typed letters stay in the text box, Enter there submits; the clock says it waits;
- after a kernel restart the widget says the run was stopped and how to resume it, its clock stops, and nothing
  in it can throw `Cannot send`;
- a reloaded page shows a finished run as finished from the first paint;
- in JupyterLab's light and dark themes: no serious or critical axe-core violation, and every status colour has
  at least 4.5:1 contrast with what is behind it, computed from the colours the browser rendered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_page import HELD_MEMORY_ENGINE, Notebook, make_notebook
from lab_server import JupyterLab
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

AXE_JS = Path(__file__).resolve().parents[2] / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
QUESTION = "How do the economies of Norway and Denmark differ?"  # no other browser test asks it
ASKING_ENGINE = """\
%load_ext research_nb
from engines_for_tests import MemoryEngine
from research_nb import workflow
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion
asking = MemoryEngine(questions=[
    ClarificationQuestion(id="focus", question="Which aspect matters most?", is_required=True),
    ClarificationQuestion(id="period", question="Which period?", question_type="choice", choices=[
        ClarificationChoice(id="now", label="today"),
        ClarificationChoice(id="past", label="the 1990s"),
        ClarificationChoice(id="long", label="since 1970"),
    ]),
])
workflow.engines.register("asking", lambda: asking)
"""
RESTARTED_QUESTION = "How does Denmark's economy compare with Iceland's?"  # asked once per server: found again
MIN_CONTRAST = 4.5


@pytest.fixture(scope="module", params=["lab", "notebook"])
def front(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    server = JupyterLab(tmp_path_factory.mktemp(f"front-{request.param}"), app=request.param)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def open_in(request: pytest.FixtureRequest, front: JupyterLab, notebook_page: Page) -> Callable[..., Notebook]:
    """Open a notebook in the module's front end (the page's kernels are shut down after the test)."""
    # a workspace of its own per test and parameter (a shared one would open the other test's tab too)
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    workspace = re.sub(r"[^\w-]+", "-", request.node.name)[:40] + digest
    request.addfinalizer(front.shut_down_kernels)

    def open_(path: str, *cells: str) -> Notebook:
        front.put_notebook(path, make_notebook(*cells))
        return Notebook(notebook_page, front, path, workspace).open()

    return open_


def test_single_choice_radios_exclude_each_other_and_keys_stay_in_the_widget(
    open_in: Callable[..., Notebook], notebook_page: Page
) -> None:
    nb = open_in(
        "keys.ipynb",
        ASKING_ENGINE,
        f'run = %research --engine asking "{QUESTION}"\nrun',
        "state = await run\nstate.current_stage.value, state.brief.objective",
    )
    nb.run(0)
    nb.run(1)
    widget = nb.widget(1)
    expect(widget).to_have_attribute("data-status", "awaiting_clarification")
    expect(widget.get_by_test_id("rnb-elapsed")).to_have_text("paused while waiting")  # not "0s"

    period = widget.get_by_role("radiogroup", name="Which period?")
    today, nineties, since_1970 = (period.get_by_role("radio", name=n) for n in ("today", "the 1990s", "since 1970"))
    today.check()
    nineties.check()
    expect(today).not_to_be_checked()  # one answer per single-choice question
    expect(nineties).to_be_checked()

    # ArrowDown moves within the group; it does not make the notebook select the next cell
    notebook_page.keyboard.press("ArrowDown")
    expect(since_1970).to_be_checked()
    expect(since_1970).to_be_focused()
    expect(nineties).not_to_be_checked()
    expect(nb.code_cell(1)).to_have_class(re.compile(r"\bjp-mod-active\b"))

    # letters are JupyterLab shortcuts in command mode (r: raw cell, y: code cell, a: a cell above...)
    answer = widget.get_by_role("textbox", name="Which aspect matters most? *")
    answer.click()
    answer.press_sequentially("energy")
    expect(answer).to_have_value("energy")
    expect(nb.panel.locator(".jp-Cell")).to_have_count(3)
    answer.press("Enter")  # submits the answers

    expect(widget).to_have_attribute("data-status", "completed")
    expect(nb.run(2)).to_contain_text(f"('completed', '{QUESTION} (focus: energy; since 1970)')")


def test_after_a_kernel_restart_the_widget_says_the_run_stopped_and_how_to_resume_it(
    front: JupyterLab, open_in: Callable[..., Notebook], browser_log: Any
) -> None:
    nb = open_in(
        "restart-widget.ipynb",
        HELD_MEMORY_ENGINE,
        f'run = %research --engine memory "{RESTARTED_QUESTION}"\nprint("run id:", run.request_id)\nrun',
        # in the new kernel, what the message says to do
        "%load_ext research_nb\nfrom engines_for_tests import MemoryEngine\nfrom research_nb import workflow\n"
        'workflow.engines.register("memory", MemoryEngine)\n'
        f"[stored] = [r for r in workflow.store.list_runs() if r.question == {RESTARTED_QUESTION!r}]\n"
        'get_ipython().run_line_magic("research", f"resume {stored.request_id}")',
    )
    nb.run(0)
    run_id = re.search(r"run id: (\S+)", nb.run(1).inner_text())
    assert run_id is not None
    widget = nb.widget(1)
    expect(widget).to_have_attribute("data-status", "running")
    expect(widget.get_by_test_id("rnb-run-id")).to_have_text(f"Run {run_id.group(1)}")
    expect(widget.get_by_test_id("rnb-cancel")).to_have_accessible_name(f"Cancel research run {run_id.group(1)}")

    nb.restart_kernel()

    message = widget.get_by_test_id("rnb-message")
    expect(message).to_have_text(f"Kernel restarted: this run was stopped — %research resume {run_id.group(1)}")
    expect(widget).to_have_attribute("data-kernel", "disconnected")
    expect(widget.get_by_test_id("rnb-status")).to_have_text("Stopped")
    expect(widget.get_by_test_id("rnb-cancel")).to_be_hidden()
    clock = widget.get_by_test_id("rnb-elapsed")
    stopped_at = clock.inner_text()
    nb.page.wait_for_timeout(2100)  # two ticks of a running clock
    assert clock.inner_text() == stopped_at
    nb.wait_for_idle_kernel()
    assert not [e for e in browser_log.errors if "Cannot send" in e], browser_log.text()

    nb.run(2)
    resumed = nb.widget(2)
    expect(resumed).to_have_attribute("data-status", "completed")
    # the resumed leg's own time, and the total with the leg before the restart (not the old total as its start)
    expect(resumed.get_by_test_id("rnb-elapsed")).to_have_text(re.compile(r"^\d+s \(\d+s in all\)$"))


def test_a_reloaded_page_shows_a_finished_run_as_finished(
    front: JupyterLab, open_in: Callable[..., Notebook], notebook_page: Page
) -> None:
    """Saved while the run went on (with the widgets' state, as JupyterLab can), reloaded once it had finished; then
    reopened after its kernel was shut down: the saved copy of the widget says what it is, not "Researching…"."""
    front.set_settings("@jupyter-widgets/jupyterlab-manager/plugin", {"saveState": True})
    nb = open_in(
        "reload.ipynb",
        HELD_MEMORY_ENGINE,
        f'run = %research --engine memory "{QUESTION}"\nprint("run id:", run.request_id)\nrun',
        "gate.open()\nawait run",
    )
    nb.run(0)
    run_id = re.search(r"run id: (\S+)", nb.run(1).inner_text())
    assert run_id is not None
    expect(nb.widget(1)).to_have_attribute("data-status", "running")
    notebook_page.keyboard.press("Control+s")
    expect(nb.panel.locator(".jp-mod-dirty")).to_have_count(0)
    nb.run(2)
    expect(nb.widget(1)).to_have_attribute("data-status", "completed")

    notebook_page.reload()
    nb.wait_for_idle_kernel()
    expect(nb.widget(1)).to_have_attribute("data-status", "completed")
    expect(nb.widget(1).get_by_test_id("rnb-status")).to_have_text("Completed")
    assert "Researching…" not in nb.recorded()["statuses"], nb.recorded()
    if front.app == "notebook":
        return  # Notebook 7 does not keep widgets' state in the file: a reopened notebook has no widget to show

    front.shut_down_kernels()
    notebook_page.reload()
    nb.wait_for_idle_kernel()
    widget = nb.widget(1)
    expect(widget.get_by_test_id("rnb-message")).to_have_text(
        f"Not connected to a kernel: this is the run as it was saved — %research open {run_id.group(1)}"
    )
    expect(widget.get_by_test_id("rnb-status")).to_have_text("Not connected")
    expect(widget.get_by_test_id("rnb-cancel")).to_be_hidden()
    assert "Researching…" not in nb.recorded()["statuses"], nb.recorded()


@pytest.mark.parametrize("front", ["lab"], indirect=True)
@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_the_widget_passes_axe_and_its_status_colours_contrast_in_both_themes(
    theme: str, front: JupyterLab, open_in: Callable[..., Notebook], notebook_page: Page
) -> None:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make setup-browser` (it installs axe-core with npm)")
    front.set_theme(theme)
    held = HELD_MEMORY_ENGINE + (
        "failing = MemoryEngine()\nfailing.fail_in = ResearchStage.COMPRESSION\n"
        'workflow.engines.register("failing", lambda: failing)\n'
        'workflow.engines.register("plain", MemoryEngine)'
    )
    nb = open_in(
        f"themes-{theme.split()[-1].lower()}.ipynb",
        ASKING_ENGINE + held,
        f'held = %research --engine memory "{QUESTION}"\nheld',
        f'asked = %research --engine asking "{QUESTION}"\nasked',
        f'done = %research --engine plain "{QUESTION}"\ndone',
        f'failed = %research --engine failing "{QUESTION}"\nfailed',
        # what the engine emits while it indexes a corpus (a cold start), here for the held run
        "from research_nb.core.events import IndexingProgress\n"
        "workflow.events.emit(IndexingProgress(request_id=held.request_id, corpus='the World Factbook',"
        " files_done=12, files_total=40, passages=3100, seconds_left=4.6))\nNone",
    )
    for cell in range(6):
        nb.run(cell)
    expect(nb.widget(1)).to_have_attribute("data-status", "running")
    indexing = nb.widget(1).locator('[data-testid="rnb-step"][data-stage="indexing"]')
    expect(indexing).to_have_attribute("data-state", "active")
    expect(indexing).to_have_text("Indexing the World Factbook12 / 40 files · 3,100 passages · about 5 s left")
    expect(nb.widget(1).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "6")
    expect(nb.widget(1).get_by_test_id("rnb-activity")).to_contain_text("Indexing the World Factbook: 12 / 40 files")
    expect(nb.widget(2)).to_have_attribute("data-status", "awaiting_clarification")
    expect(nb.widget(3)).to_have_attribute("data-status", "completed")
    expect(nb.widget(4)).to_have_attribute("data-status", "failed")
    light = theme.endswith("Light")
    expect(notebook_page.locator("body")).to_have_attribute("data-jp-theme-light", "true" if light else "false")

    notebook_page.add_script_tag(path=str(AXE_JS))
    result = notebook_page.evaluate(
        "async () => (await axe.run(document.querySelectorAll('.rnb'), {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3)}))"
    )
    grave = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not grave, grave

    contrasts = notebook_page.evaluate(CONTRASTS_JS)
    assert len(contrasts) >= 15, contrasts
    print(theme, "lowest contrasts:", sorted((c["ratio"], c["name"]) for c in contrasts)[:3])
    low = [c for c in contrasts if c["ratio"] < MIN_CONTRAST]
    assert not low, low


# Every status colour the widget can show, on a real widget of the page: the status pill in each status, each
# step state, each message kind, each sub-question status; the ratio (WCAG 2) of its text colour, composited over
# what is behind it, against that background. Colours are read through a canvas, which turns any CSS colour
# (rgb(), color(srgb ...) from color-mix) into sRGB bytes.
CONTRASTS_JS = """
() => {
  const canvas = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    canvas.clearRect(0, 0, 1, 1);
    canvas.fillStyle = "#000";
    canvas.fillStyle = css;
    canvas.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = canvas.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, bottom) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const background = (node) => {
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
      const layer = rgba(getComputedStyle(n).backgroundColor);
      if (layer[3] > 0) layers.push(layer);
      if (layer[3] === 1) break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (node) => {
    const back = background(node);
    const text = over(rgba(getComputedStyle(node).color), back);
    const [hi, lo] = [luminance(text), luminance(back)].sort((a, b) => b - a);
    return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
  };
  const widget = document.querySelector(".rnb");
  const results = [];
  const measure = (node, name) => results.push({ name, ratio: ratio(node), color: getComputedStyle(node).color });
  const pill = widget.querySelector(".rnb-status");
  const saved = pill.dataset.status;
  const statuses = ["pending", "running", "awaiting_clarification", "completed", "failed", "cancelled", "stopped"];
  for (const status of statuses) {
    pill.dataset.status = status;
    measure(pill, `status ${status}`);
  }
  pill.dataset.status = saved;
  const step = widget.querySelector(".rnb-step");
  const stepClass = step.className;
  for (const state of ["pending", "active", "done", "failed", "stopped"]) {
    step.className = `rnb-step rnb-step--${state}`;
    measure(step, `step ${state}`);
  }
  step.className = stepClass;
  const message = widget.querySelector(".rnb-message");
  const messageState = [message.className, message.hidden, message.textContent];
  message.hidden = false;
  message.textContent = "message";
  for (const kind of ["failed", "cancelled", "stopped", "completed"]) {
    message.className = `rnb-message rnb-message--${kind}`;
    measure(message, `message ${kind}`);
  }
  [message.className, message.hidden, message.textContent] = messageState;
  const others = ".rnb .rnb-subq-status, .rnb .rnb-found-link, .rnb-elapsed, .rnb-meta";
  for (const node of document.querySelectorAll(others)) {
    measure(node, node.className);
  }
  return results;
}
"""
