"""Background tasks for research runs, on whichever event loop is running.

What it fixes in the seed's manager (DESIGN.md section 3):
- no sleeping in `finally`: a finished task's record is kept with its finish time and purged on demand by
  `cleanup_completed`, and the number of finished records is bounded;
- re-submitting an id cancels the old task *and waits for it* before starting the new one, and bookkeeping is
  keyed on task identity, so an old task's completion can never touch the new task's record;
- status comes back as a `TaskRecord` copy, never a live dict; timestamps are aware UTC;
- no asyncio primitive is stored, so the singleton survives the loops that pytest, the kernel and uvicorn
  each bring. A task whose loop has closed is reported as lost, not as running.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, JsonValue

from research_nb.core.errors import DuplicateRequestError
from research_nb.models.research import utcnow

logger = logging.getLogger(__name__)

TaskStatus = Literal["running", "completed", "failed", "cancelled"]
SHUTDOWN_REASON = "Cancelled by shutdown"


class TaskRecord(BaseModel):
    """What the manager knows about one task. Returned as a copy: changing it changes nothing."""

    request_id: str
    status: TaskStatus = "running"
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    error: str | None = None
    cancel_reason: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class ShutdownReport(BaseModel):
    cancelled: int
    still_running: int
    seconds: float


class _Entry:
    __slots__ = ("finished_monotonic", "record", "task")

    def __init__(self, task: asyncio.Task[Any], record: TaskRecord) -> None:
        # Released when the task ends: a finished task holds its result (a whole research state), and a manager
        # that kept a thousand of them would keep a thousand reports alive.
        self.task: asyncio.Task[Any] | None = task
        self.record = record
        self.finished_monotonic: float | None = None

    def live_task(self) -> asyncio.Task[Any] | None:
        """The task while it runs on a loop that is still open; None once it ended (or its loop is gone)."""
        task = self.task
        return task if task is not None and not task.done() and not _loop_closed(task) else None

    @property
    def lost(self) -> bool:
        """Still marked running, but its loop closed under it (a test's or a kernel's loop that is gone)."""
        return self.task is not None and not self.task.done() and _loop_closed(self.task)


class BackgroundTaskManager:
    """Tracks research tasks: submit, cancel, query, shut down, purge."""

    def __init__(self, *, max_finished: int = 1000) -> None:
        self._entries: dict[str, _Entry] = {}
        self._max_finished = max_finished

    # -- submitting ---------------------------------------------------------------------------------------

    async def submit_research(
        self, request_id: str, coro: Coroutine[Any, Any, Any], metadata: dict[str, JsonValue] | None = None
    ) -> str:
        """Run `coro` in the background under `request_id`. A running task with the same id is cancelled and
        awaited first, so two tasks never share an id."""
        while (entry := self._entries.get(request_id)) is not None and (old := entry.live_task()) is not None:
            _cancel(entry, old, "Replaced by a new submission")
            await asyncio.wait([old])
        return self.start(request_id, coro, metadata)

    def start(
        self, request_id: str, coro: Coroutine[Any, Any, Any], metadata: dict[str, JsonValue] | None = None
    ) -> str:
        """Synchronous submit for code already running on the loop (a magic, a request handler).
        Raises `DuplicateRequestError` if a task with this id is still running."""
        entry = self._entries.get(request_id)
        if entry is not None and entry.live_task() is not None:
            coro.close()
            raise DuplicateRequestError(f"a research task with id {request_id!r} is already running")
        task = asyncio.get_running_loop().create_task(coro, name=f"research-{request_id}")
        self._entries[request_id] = _Entry(task, TaskRecord(request_id=request_id, metadata=metadata or {}))
        task.add_done_callback(lambda t: self._on_done(request_id, t))
        return request_id

    def _on_done(self, request_id: str, task: asyncio.Task[Any]) -> None:
        entry = self._entries.get(request_id)
        if entry is None or entry.task is not task:
            return  # a newer task owns this id now
        record = entry.record
        record.finished_at = utcnow()
        entry.finished_monotonic = time.monotonic()
        if task.cancelled():
            record.status = "cancelled"
            record.cancel_reason = record.cancel_reason or "Cancelled"
        elif (exc := task.exception()) is not None:
            record.status = "failed"
            record.error = f"{type(exc).__name__}: {exc}"
            logger.warning("research task %s failed: %s", request_id, record.error)
        else:
            record.status = "completed"
        entry.task = None
        self._bound_finished()

    # -- controlling --------------------------------------------------------------------------------------

    async def cancel_task(self, request_id: str, reason: str = "Cancelled by user") -> bool:
        """Cancel a running task. True if it was running; False if unknown or already finished."""
        return self.cancel_nowait(request_id, reason)

    def cancel_nowait(self, request_id: str, reason: str = "Cancelled by user") -> bool:
        """`cancel_task` for synchronous callers (a widget button, a signal handler). False when the task is
        already being cancelled (the seed's contract: a second cancel reports nothing new)."""
        entry = self._entries.get(request_id)
        task = None if entry is None else entry.live_task()
        if entry is None or task is None or entry.record.cancel_reason is not None:
            return False
        _cancel(entry, task, reason)
        return True

    async def wait(self, request_id: str) -> TaskRecord | None:
        """Wait until the task ends (however it ends) and return its record."""
        entry = self._entries.get(request_id)
        if entry is None:
            return None
        if (task := entry.live_task()) is not None:
            await asyncio.wait([task])
        return await self.get_task_status(request_id)

    def get_task(self, request_id: str) -> asyncio.Task[Any] | None:
        """The task while it runs; None for an unknown id or once it ended (read its record instead)."""
        entry = self._entries.get(request_id)
        return None if entry is None else entry.live_task()

    # -- reading ------------------------------------------------------------------------------------------

    async def get_task_status(self, request_id: str) -> TaskRecord | None:
        entry = self._entries.get(request_id)
        return None if entry is None else _snapshot(entry)

    async def list_active_tasks(self) -> dict[str, TaskRecord]:
        return {rid: _snapshot(entry) for rid, entry in self._entries.items() if entry.live_task() is not None}

    def __len__(self) -> int:
        return len(self._entries)

    # -- ending -------------------------------------------------------------------------------------------

    async def shutdown(self, timeout: float = 5.0, reason: str = SHUTDOWN_REASON) -> ShutdownReport:
        """Cancel every running task on this loop and wait up to `timeout` seconds for them to end."""
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        running: list[asyncio.Task[Any]] = []
        for rid, entry in self._entries.items():
            task = entry.live_task()
            if task is not None and task.get_loop() is loop:
                running.append(task)
                _cancel(entry, task, reason)
                logger.info("cancelling research task %s for shutdown", rid)
        if running:
            await asyncio.wait(running, timeout=timeout)
        still = sum(1 for t in running if not t.done())
        if still:
            logger.warning("%d research tasks did not stop within %.1f s", still, timeout)
        return ShutdownReport(cancelled=len(running) - still, still_running=still, seconds=time.monotonic() - began)

    async def cleanup_completed(self, older_than_seconds: float = 300) -> int:
        """Forget finished tasks that ended more than `older_than_seconds` ago; returns how many."""
        cutoff = time.monotonic() - older_than_seconds
        stale = [
            rid
            for rid, e in self._entries.items()
            if (e.finished_monotonic is not None and e.finished_monotonic <= cutoff) or e.lost
        ]
        for rid in stale:
            del self._entries[rid]
        return len(stale)

    def _bound_finished(self) -> None:
        finished = [rid for rid, e in self._entries.items() if e.finished_monotonic is not None]
        for rid in finished[: max(0, len(finished) - self._max_finished)]:
            del self._entries[rid]


def _snapshot(entry: _Entry) -> TaskRecord:
    record = entry.record.model_copy(deep=True)
    if record.status == "running" and entry.lost:
        record.status = "cancelled"
        record.cancel_reason = "Lost: its event loop closed"
    return record


def _cancel(entry: _Entry, task: asyncio.Task[Any], reason: str) -> None:
    """Cancel so that the coroutine itself sees the `CancelledError`.

    A task cancelled before its first step never runs its body (Python throws into an unstarted coroutine), so a
    research run cancelled right after submission would stay PENDING with no final event for its streams. Its
    first step is already queued on the loop: cancelling one callback later lands the cancel inside the body.
    """
    entry.record.cancel_reason = reason
    coro = task.get_coro()
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        task.get_loop().call_soon(task.cancel, reason)
    else:
        task.cancel(reason)


def _loop_closed(task: asyncio.Task[Any]) -> bool:
    return task.get_loop().is_closed()


task_manager = BackgroundTaskManager()
