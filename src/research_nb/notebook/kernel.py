"""The kernel's event loop, and stopping research when the kernel shuts down or restarts.

The loop: an extension loaded at kernel start (`c.InteractiveShellApp.extensions`) runs before ipykernel's loop
does, so the loop is captured lazily, by the first run started from code running on it.

Shutdown: IPython has no shutdown event. On a shutdown or restart request ipykernel calls `do_shutdown` on its
control thread, then stops the main loop; jupyter_client sends SIGTERM 2.5 s after the request. The hook wraps
`do_shutdown` and cancels every running research task on the main loop (its state ends CANCELLED with reason
"Cancelled by shutdown" and a partial report) within about a second, then stops the research worker process
(`research_nb.core.workers`). `atexit` is the fallback for a process that ends any other way with its loop
stopped. Nothing can run on SIGKILL (`shutdown_kernel(now=True)`) or SIGTERM: the worker then exits by itself
when its pipe to the kernel closes.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import sys
import time
from collections.abc import Callable
from typing import Any

from research_nb.core.errors import UserInputError
from research_nb.core.task_manager import SHUTDOWN_REASON, task_manager
from research_nb.core.workers import workers
from research_nb.core.workflow import workflow

_kernel_loop: asyncio.AbstractEventLoop | None = None


class NoEventLoopError(UserInputError):
    """Research runs in the background on a running event loop: a Jupyter kernel's, or your own."""


def capture_loop() -> asyncio.AbstractEventLoop:
    """The running loop, remembered as the kernel's so the shutdown hook can reach it from another thread."""
    global _kernel_loop
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise NoEventLoopError(
            "research runs in the background of a running event loop, and there is none here: use it in a "
            "Jupyter kernel, or `await research_nb.workflow.run(...)` from your own asyncio code"
        ) from None
    _kernel_loop = loop
    return loop


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The captured loop, if it is still usable."""
    loop = _kernel_loop
    return None if loop is None or loop.is_closed() else loop


class ShutdownHook:
    """Cancels running research when the kernel shuts down. Idempotent; `uninstall` undoes `install`."""

    def __init__(self, kernel: Any | None, *, timeout: float = 1.0, log: Callable[[str], None] | None = None) -> None:
        self.kernel = kernel
        self.timeout = timeout
        self._log = log or _log_to_process_stderr
        self._wrapper: Callable[[bool], Any] | None = None
        self._ran = False

    # -- installing ---------------------------------------------------------------------------------------

    def install(self) -> None:
        atexit.register(self._at_exit)
        if self.kernel is None or self._wrapper is not None:
            return
        original = self.kernel.do_shutdown

        async def do_shutdown(restart: bool) -> Any:
            await self.run()
            result = original(restart)  # sync in ipykernel's IPythonKernel, async in its base class
            return await result if inspect.isawaitable(result) else result

        self._wrapper = do_shutdown
        self.kernel.do_shutdown = do_shutdown

    def uninstall(self) -> None:
        atexit.unregister(self._at_exit)
        if self.kernel is not None and self._wrapper is not None:
            if self.kernel.__dict__.get("do_shutdown") is self._wrapper:
                del self.kernel.do_shutdown  # the class's method shows through again
            self._wrapper = None

    # -- running ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Cancel the research running on the kernel's loop, from whichever thread and loop calls it; then stop
        the research worker process."""
        if self._ran:
            return
        self._ran = True
        try:
            await self._cancel_runs()
        finally:
            workers.shutdown()  # after the runs: they no longer await it (a few ms; it exits on request)

    async def _cancel_runs(self) -> None:
        loop = kernel_loop()
        if loop is None:
            return  # no run was ever started in this process
        began = time.monotonic()
        try:
            if _running_loop() is loop:
                stopped = await _cancel_all(self.timeout)
            else:  # ipykernel's control thread: the research lives on the main thread's loop
                future = asyncio.run_coroutine_threadsafe(_cancel_all(self.timeout), loop)
                stopped = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout + 0.5)
        except TimeoutError:
            self._log(
                f"research-nb: the kernel was busy; running research could not be stopped within {self.timeout} s"
            )
            return
        if stopped:
            self._log(
                f"research-nb: kernel shutdown stopped {len(stopped)} run(s) in {time.monotonic() - began:.3f} s: "
                + "; ".join(stopped)
            )

    def _at_exit(self) -> None:
        if self._ran:
            return
        loop = kernel_loop()
        if loop is None or loop.is_running():
            self._ran = True
            return
        try:
            loop.run_until_complete(self.run())
        except Exception as exc:  # never raise from atexit
            self._log(f"research-nb: stopping research at exit failed: {exc}")


async def _cancel_all(timeout: float) -> list[str]:
    """Cancel every running research task on this loop, and end the runs paused for answers (no task drives
    them); describe each stopped run (id, stage, reason)."""
    active = list(await task_manager.list_active_tasks())
    if active:
        await task_manager.shutdown(timeout=timeout, reason=SHUTDOWN_REASON)
    for paused in workflow.list_states():
        if paused.awaiting_clarification and workflow.cancel_idle(paused.request_id, SHUTDOWN_REASON):
            active.append(paused.request_id)
    described = []
    for request_id in active:
        state = workflow.get_state(request_id)
        if state is not None:
            described.append(f"{request_id} {state.current_stage.value} ({state.cancel_reason or state.error_message})")
    return described


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _log_to_process_stderr(message: str) -> None:
    """The process's own stderr (the Jupyter server's console), not the notebook's redirected stream."""
    stream = sys.__stderr__
    if stream is not None:
        print(message, file=stream, flush=True)
