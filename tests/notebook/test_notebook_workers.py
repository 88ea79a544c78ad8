"""The research worker process seen from a real kernel: offline runs do their work there, a killed worker fails
its run clearly and is replaced, cancelling reaches it, and nothing is left running after the kernel stops."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from kernel_session import KernelSession, kernel_session
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import OfflineEngine

QUESTION = "How do the economies of Norway and Sweden differ?"

HELD_SETUP = """
from worker_engines import HeldInWorkerEngine
from research_nb import workflow
from research_nb.core.workers import workers
held = HeldInWorkerEngine({marker!r})
workflow.engines.register("held-in-worker", lambda: held)

async def holding(run):
    async for event in workflow.events.subscribe(run.request_id):
        if event.type == "log" and event.message.startswith("holding"):
            return int(event.message.split()[-1])
"""


def kernel_with_worker(session: KernelSession, marker: Path) -> None:
    session.run("%load_ext research_nb\nimport research_nb")
    session.run(HELD_SETUP.format(marker=str(marker)))


def gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kernel_process(session: KernelSession) -> psutil.Process:
    return psutil.Process(session.km.provisioner.process.pid)  # type: ignore[union-attr]


async def test_an_offline_run_works_in_the_worker_and_reports_byte_identically(tmp_path: Path) -> None:
    here = ResearchWorkflow()
    in_process = OfflineEngine(in_worker=False)
    here.engines.register("offline", lambda: in_process)
    expected = await here.run(QUESTION)
    assert expected.report is not None
    with kernel_session() as kernel:
        kernel.run("%load_ext research_nb\nimport research_nb\nfrom research_nb.core.workers import workers")
        kernel.run(f"state = await research_nb.research({QUESTION!r}, widget=False)")
        assert kernel.eval("state.current_stage.value") == "completed"
        assert kernel.eval("state.report.markdown") == expected.report.markdown
        worker = kernel.eval("workers.pid")
        assert worker in [p.pid for p in kernel_process(kernel).children()]  # not the kernel: its child


def test_a_killed_worker_fails_its_run_with_a_clear_line_and_the_next_run_gets_a_new_one(tmp_path: Path) -> None:
    with kernel_session() as kernel:
        kernel_with_worker(kernel, tmp_path / "unused")
        kernel.run(f"run = research_nb.research({QUESTION!r}, engine='held-in-worker', widget=False)")
        dead = kernel.eval("await holding(run)")
        os.kill(dead, signal.SIGKILL)
        kernel.run("state = await run")
        assert kernel.eval("state.current_stage.value") == "failed"
        assert kernel.eval("state.error_message") == (
            f"the research execution stage failed: WorkerDiedError: the research worker process (pid {dead}) "
            "was killed by SIGKILL during this stage; resume the run to try again"
        )
        kernel.run(f"state = await research_nb.research({QUESTION!r}, widget=False)")
        assert kernel.eval("state.current_stage.value") == "completed"
        assert kernel.eval("workers.pid") not in (None, dead)


def test_cancelling_a_run_stops_its_stage_in_the_worker(tmp_path: Path) -> None:
    marker = tmp_path / "cancelled"
    with kernel_session() as kernel:
        kernel_with_worker(kernel, marker)
        kernel.run(f"run = research_nb.research({QUESTION!r}, engine='held-in-worker', widget=False)")
        kernel.eval("await holding(run)")
        kernel.run("run.cancel()\nstate = await run")
        assert kernel.eval("state.current_stage.value") == "cancelled"
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert time.monotonic() < deadline, "the worker did not stop the stage"
            time.sleep(0.05)


def test_kernel_shutdown_with_a_run_in_the_worker_leaves_nothing_running(tmp_path: Path) -> None:
    with kernel_session(stderr_path=tmp_path / "stderr.txt") as kernel:
        kernel_with_worker(kernel, tmp_path / "unused")
        kernel.run(f"run = research_nb.research({QUESTION!r}, engine='held-in-worker', widget=False)")
        worker = kernel.eval("await holding(run)")
        process = kernel_process(kernel)
        children = process.children(recursive=True)
        assert worker in [c.pid for c in children]
        kernel.km.shutdown_kernel(now=False)
        assert "kernel shutdown stopped 1 run(s)" in kernel.kernel_stderr()
        assert all(gone(c.pid) for c in children), [c for c in children if c.is_running()]


def test_a_kernel_killed_by_sigterm_leaves_no_worker_behind(tmp_path: Path) -> None:
    with kernel_session() as kernel:
        kernel_with_worker(kernel, tmp_path / "unused")
        kernel.run(f"run = research_nb.research({QUESTION!r}, engine='held-in-worker', widget=False)")
        worker = kernel.eval("await holding(run)")
        process = kernel_process(kernel)
        children = process.children(recursive=True)
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        assert worker in [c.pid for c in children]
        assert all(gone(c.pid) for c in children), [c for c in children if c.is_running()]
