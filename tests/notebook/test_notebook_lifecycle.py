"""Waiting, interrupting, unloading, kernel start, shutdown and restart — in real kernels."""

from __future__ import annotations

import os
from pathlib import Path

from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session
from research_nb.core.store import RunStore
from research_nb.models.research import ResearchStage

QUESTION = "How do the economies of Norway and Sweden differ?"

# Opens the memory engine's gate from a thread when a line is written to a named pipe: the test can let a run
# finish while the kernel's only thread is blocked in `run.wait()`.
OPEN_GATE_FROM_PIPE = """
import asyncio, threading
_loop = asyncio.get_running_loop()
def _open_when_told(path):
    with open(path) as pipe:
        pipe.readline()
    _loop.call_soon_threadsafe(gate.open)
threading.Thread(target=_open_when_told, args=({path!r},), daemon=True).start()
"""


def test_wait_blocks_until_the_run_ends(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory --no-widget "{QUESTION}"\ngate.open()')
    assert kernel.eval("run.wait().current_stage.value") == "completed"


def test_a_cancel_click_during_wait_is_lost_and_said_so(kernel: KernelSession, tmp_path: Path) -> None:
    pipe = tmp_path / "open-gate"
    os.mkfifo(pipe)
    shown = kernel.run(f'run = %research --engine memory "{QUESTION}"\nrun')
    widget = kernel.research_widget_id(shown)
    kernel.run(OPEN_GATE_FROM_PIPE.format(path=str(pipe)) + "\nawait gate.reached(1)")

    waiting = kernel.submit("print('waiting', flush=True)\nstate = run.wait()")
    kernel.wait_for_output(waiting, "waiting")
    kernel.send_to_widget(widget, {"type": "cancel"})
    kernel.wait_for_output(waiting, "a message from the browser (a Cancel click?) arrived while run.wait() blocks")
    pipe.write_text("open\n")  # the run may now finish: the click is gone

    cell = kernel.collect(waiting)
    assert cell.error is None and "Traceback" not in cell.stderr
    assert kernel.eval("state.current_stage.value, state.cancel_reason") == ("completed", None)
    assert kernel.eval("1 + 1") == 2


def test_interrupting_a_cell_that_awaits_a_run_stops_the_waiting_not_the_run(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory --no-widget "{QUESTION}"\nawait gate.reached(1)')
    waiting = kernel.submit("print('waiting', flush=True)\nawait run")
    kernel.wait_for_output(waiting, "waiting")

    kernel.km.interrupt_kernel()
    # ipykernel 7.4 handles SIGINT during an await on the loop's next wake-up; a request wakes it
    kernel.kc.kernel_info()
    cell = kernel.collect(waiting)

    assert cell.error is not None and cell.error["ename"] == "CancelledError"
    assert kernel.eval("run.status") == "running"
    kernel.run("gate.open()")
    assert kernel.eval("(await run).current_stage.value") == "completed"


def test_unloading_removes_the_magic_the_config_section_and_the_hook(kernel: KernelSession) -> None:
    kernel.run("%unload_ext research_nb")
    assert kernel.run('%research "q"').stderr == "UsageError: Line magic function `%research` not found.\n"
    assert kernel.eval("'ResearchMagics' in [type(c).__name__ for c in get_ipython().configurables]") is False
    assert kernel.eval("'do_shutdown' in vars(get_ipython().kernel)") is False

    kernel.run("%load_ext research_nb")
    assert kernel.eval("'do_shutdown' in vars(get_ipython().kernel)") is True
    kernel.run(f'run = %research --engine memory "{QUESTION}"\ngate.open()')
    assert kernel.eval("(await run).current_stage.value") == "completed"


def test_loaded_at_kernel_start_the_extension_works_from_the_first_cell(tmp_path: Path) -> None:
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["research_nb"]\nc.ResearchMagics.max_results = 4\n'
    )
    stderr = tmp_path / "kernel-stderr.txt"
    with kernel_session(env={"IPYTHONDIR": str(tmp_path / "ipython")}, stderr_path=stderr) as kernel:
        kernel.run(MEMORY_ENGINE_SETUP)
        shown = kernel.run(f'run = %research --engine memory "{QUESTION}"\nrun')
        kernel.research_widget_id(shown)
        assert kernel.eval("run.state.options.max_search_results") == 4  # the config file's default
        kernel.run("await gate.reached(1)")
        process = kernel.km.provisioner.process  # type: ignore[union-attr]
        run_id = kernel.eval("run.request_id")

        kernel.km.shutdown_kernel(now=False)  # the hook reaches the loop captured by the first run

        assert process.returncode == 0
        assert f"{run_id} cancelled (Cancelled by shutdown)" in stderr.read_text()
        assert_stored_as_cancelled_by_shutdown(run_id)


def test_shutdown_cancels_running_research_and_the_kernel_exits_before_sigterm(kernel: KernelSession) -> None:
    kernel.run(
        f"""
from engines_for_tests import MemoryEngine
from research_nb.models.clarification import ClarificationQuestion
asking = MemoryEngine(questions=[ClarificationQuestion(id="focus", question="Which aspect?")])
workflow.engines.register("asking", lambda: asking)
import research_nb
runs = [research_nb.research("{QUESTION}", engine="memory") for _ in range(2)]
paused = research_nb.research("{QUESTION}", engine="asking")
await gate.reached(2)
await paused
"""
    )
    run_ids = kernel.eval("[r.request_id for r in (*runs, paused)]")
    assert kernel.eval("[r.status for r in (*runs, paused)]") == ["running", "running", "awaiting_clarification"]
    process = kernel.km.provisioner.process  # type: ignore[union-attr]

    kernel.km.shutdown_kernel(now=False)

    assert process.returncode == 0  # exited by itself: jupyter_client's SIGTERM would give -15
    log = kernel.kernel_stderr()
    assert "research-nb: kernel shutdown stopped 3 run(s)" in log
    for run_id in run_ids:
        assert f"{run_id} cancelled (Cancelled by shutdown)" in log
        assert_stored_as_cancelled_by_shutdown(run_id)


def test_restart_cancels_running_research_and_the_new_kernel_resumes_it(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory "{QUESTION}"\nawait gate.reached(1)')
    run_id = kernel.eval("run.request_id")
    old_process = kernel.km.provisioner.process  # type: ignore[union-attr]

    kernel.km.restart_kernel(now=False)

    assert old_process.returncode == 0
    assert f"{run_id} cancelled (Cancelled by shutdown)" in kernel.kernel_stderr()
    assert_stored_as_cancelled_by_shutdown(run_id)

    kernel.kc.wait_for_ready(timeout=60)
    kernel.run("%load_ext research_nb")
    kernel.run(MEMORY_ENGINE_SETUP + "\ngate.open()")
    listing = kernel.run("%research list")
    assert " cancelled (stored) " in listing.row_of(run_id)
    resumed = kernel.run(f"run = %research resume {run_id}\nrun")
    widget = kernel.research_widget_id(resumed)
    assert kernel.wait_for_widget(widget, status="completed")["has_report"] is True
    assert kernel.eval("(await run).current_stage.value, run.state.cancel_reason") == ("completed", None)


def test_a_stored_run_opens_with_its_report_in_a_new_kernel(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory "{QUESTION}"\ngate.open()\nstate = await run')
    run_id = kernel.eval("run.request_id")
    kernel.km.restart_kernel(now=False)
    kernel.kc.wait_for_ready(timeout=60)
    kernel.run("%load_ext research_nb")

    opened = kernel.run(f"%research open {run_id}")

    widget = kernel.research_widget_id(opened)
    assert kernel.models[widget]["status"] == "completed" and kernel.models[widget]["has_report"] is True
    report = opened.displays[1]["text/markdown"]  # a finished run's report is in its output at once
    assert report.split("\n\n", 1)[1].startswith(f"# {QUESTION}")


def assert_stored_as_cancelled_by_shutdown(run_id: str) -> None:
    """The run store (in the tests' private data folder) holds the run's final state."""
    stored = RunStore().load(run_id)
    assert stored.current_stage is ResearchStage.CANCELLED
    assert stored.cancel_reason == "Cancelled by shutdown"
