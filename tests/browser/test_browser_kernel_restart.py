"""Scenario 5: restarting the kernel from JupyterLab while a research runs. The shutdown hook cancels the run and
records it as "Cancelled by shutdown" (in the run store, which outlives the kernel), and the new kernel works: it
reads that record and runs a new research to its end."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import pytest
from lab_page import HELD_MEMORY_ENGINE, Notebook, make_notebook
from lab_server import JupyterLab
from playwright.sync_api import expect

from research_nb.core.store import RunStore
from research_nb.models.research import ResearchStage

pytestmark = pytest.mark.browser

QUESTION = "How do the economies of Norway and Finland differ?"  # no other browser test asks it
OLD_KERNEL_EXIT_TIMEOUT_S = 30


def test_a_kernel_restart_with_a_run_in_flight_records_it_cancelled_and_the_new_kernel_works(
    lab: JupyterLab, open_notebook: Callable[..., Notebook]
) -> None:
    nb = open_notebook(
        "restart.ipynb",
        make_notebook(
            HELD_MEMORY_ENGINE + "import os\nprint('kernel pid:', os.getpid())",
            f'run = %research --engine memory "{QUESTION}"\nprint("run id:", run.request_id)\nrun',
            # in the new kernel: the stored record of the run the restart interrupted
            "import os\nfrom research_nb import workflow\n"
            f"[stored] = [r for r in workflow.store.list_runs() if r.question == {QUESTION!r}]\n"
            "state = workflow.get_state(stored.request_id)\n"
            "print('kernel pid:', os.getpid())\n"
            "print(state.request_id, state.current_stage.value, state.cancel_reason, sep=' | ')",
            # and a new research, from start to end
            "%load_ext research_nb\nfrom engines_for_tests import MemoryEngine\n"
            'workflow.engines.register("memory", MemoryEngine)\n'
            'again = %research --engine memory "How does Sweden\'s economy work?"\nagain',
        ),
    )
    old_pid = int(printed(nb.run(0).inner_text(), "kernel pid"))
    widget = nb.widget(1)
    run_id = printed(nb.run(1).inner_text(), "run id")
    expect(widget.locator('[data-testid="rnb-step"][data-stage="research_execution"]')).to_have_attribute(
        "data-state", "active"
    )
    expect(widget.locator('[data-testid="rnb-subq"][data-sub-question-id="sq1"]')).to_have_attribute(
        "data-status", "done"
    )

    nb.restart_kernel()
    wait_until_gone(old_pid)
    nb.wait_for_idle_kernel()

    # the hook ran in the old kernel: the run's record says so, and the server's log has its line
    stored = RunStore(lab.data_dir / "runs").load(run_id)
    assert stored.current_stage is ResearchStage.CANCELLED
    assert stored.cancel_reason == "Cancelled by shutdown"
    assert stored.report is not None and stored.report.metadata.partial
    hook_line = rf"research-nb: kernel shutdown stopped 1 run\(s\) in [\d.]+ s: {run_id} cancelled"
    assert re.search(hook_line, lab.log()), lab.log_tail()

    # the new kernel reads the record, and researches
    new_kernel = nb.run(2).inner_text()
    assert int(printed(new_kernel, "kernel pid")) != old_pid
    assert f"{run_id} | cancelled | Cancelled by shutdown" in new_kernel
    nb.run(3)
    expect(nb.widget(3)).to_have_attribute("data-status", "completed")
    expect(nb.report_under_widget(3)).to_contain_text("Sweden's economy is export oriented")
    nb.widget(3).scroll_into_view_if_needed()


def printed(output: str, label: str) -> str:
    """The value a cell printed as `label: value`."""
    match = re.search(rf"^{re.escape(label)}: (\S+)$", output, re.MULTILINE)
    assert match is not None, f"no {label!r} in {output!r}"
    return match.group(1)


def wait_until_gone(pid: int) -> None:
    """Until the old kernel's process has exited (and been reaped by the server)."""
    deadline = time.monotonic() + OLD_KERNEL_EXIT_TIMEOUT_S
    while _alive(pid):
        assert time.monotonic() < deadline, f"the old kernel (pid {pid}) still runs {OLD_KERNEL_EXIT_TIMEOUT_S} s on"
        time.sleep(0.05)  # polling the process table until the condition holds


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
